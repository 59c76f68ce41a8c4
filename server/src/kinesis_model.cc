#include "kinesis_model.h"

#include <algorithm>

namespace tideline::server::model {
namespace {

#include "kinesis_model.inc"

}  // namespace

std::span<const Operation> Operations() {
  return kOperations;
}

const Operation* FindOperation(std::string_view name) {
  const auto it =
      std::lower_bound(std::begin(kOperations), std::end(kOperations), name,
                       [](const Operation& op, std::string_view n) { return op.name < n; });
  if (it == std::end(kOperations) || it->name != name) return nullptr;
  return &*it;
}

const Shape& ShapeAt(int index) {
  return kShapes[index];
}

std::span<const Shape> Shapes() {
  return kShapes;
}

std::span<const Member> MembersOf(const Shape& structure) {
  if (structure.type != Type::kStructure) return {};
  return std::span<const Member>(kMembers).subspan(structure.first, structure.count);
}

std::span<const std::string_view> EnumOf(const Shape& string) {
  if (string.type != Type::kString || string.count == 0) return {};
  return std::span<const std::string_view>(kEnumValues).subspan(string.first, string.count);
}

}  // namespace tideline::server::model
