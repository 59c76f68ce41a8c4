// The encoder of the OpenSearch destination: documents -> _bulk NDJSON action and source lines,
// and the request builder that cuts them into request bodies (optionally gzipped).
//
// A Deliver call encodes its documents once; every request of every attempt is then a list of
// document indices whose lines are copied out of that one buffer (or, for a contiguous run and
// no gzip, sent straight from it without a copy).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "opensearch/index_name.h"
#include "pipeline/destination.h"

namespace tideline::pipeline::opensearch {

// The _bulk lines of one Deliver call's documents.
class EncodedDocuments {
 public:
  // Document i's two lines ("{action}\n{source}\n"); empty when it could not be encoded.
  std::string_view Lines(size_t i) const {
    return std::string_view(text_).substr(begin_[i], begin_[i + 1] - begin_[i]);
  }
  size_t size() const { return begin_.empty() ? 0 : begin_.size() - 1; }
  // Whether document i's action is `create` with an id (a 409 then means "already indexed").
  bool is_create(size_t i) const { return create_[i]; }

 private:
  friend class BulkEncoder;
  std::string text_;
  std::vector<size_t> begin_;  // size() + 1 offsets into text_
  std::vector<bool> create_;
};

class BulkEncoder {
 public:
  // Sources nested deeper than `max_document_depth` are InvalidDocument.
  explicit BulkEncoder(const OpenSearchDestinationOptions& options,
                       uint32_t max_document_depth = kDefaultMaxDocumentDepth);

  // Encodes `docs`. Sets results[i].target to the document's index. A document that is not one
  // JSON object cannot be indexed: it gets no lines, and results[i] is failed with
  // "InvalidDocument" (attempts 0), as OpenSearch would refuse it.
  // A document with an id is sent as `create` (stable ids) and one without (auto ids, or a
  // backed-up auto-id document) as `index` without _id. A source that is JSON but not compact
  // on one line is re-serialized: NDJSON needs one line per source.
  void Encode(std::span<const Document> docs, std::span<DeliveryResult> results,
              EncodedDocuments& out);

 private:
  const bool stable_ids_;
  const uint32_t max_depth_;
  IndexNamer namer_;
};

// One _bulk request: the documents it carries and its body.
struct BulkRequest {
  std::vector<uint32_t> docs;  // indices into the Deliver call's documents
  std::string_view body;       // NDJSON, or its gzip when gzipped
  std::string owned;           // body's storage unless it is a view of the encoded lines
  size_t ndjson_bytes = 0;     // uncompressed size
};

// Cuts `docs` (indices, in order) into requests of at most `max_bytes` of NDJSON each (a
// document larger than that goes alone), and into at least `min_requests` when there are
// enough documents, so that concurrent requests share a large flush.
std::vector<BulkRequest> PlanRequests(const EncodedDocuments& encoded,
                                      std::span<const uint32_t> docs, size_t max_bytes,
                                      size_t min_requests);

// Fills each request's body: a view of the encoded lines when its documents are one
// contiguous run and gzip is off, else a copy (gzipped with `gzip`).
void BuildBodies(const EncodedDocuments& encoded, bool gzip, std::span<BulkRequest> requests);

// gzip (RFC 1952) of `in`, appended to `out`.
void GzipAppend(std::string_view in, std::string& out);

}  // namespace tideline::pipeline::opensearch
