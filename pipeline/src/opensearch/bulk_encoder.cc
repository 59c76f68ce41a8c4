#include "opensearch/bulk_encoder.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <zlib.h>

#include <cstring>

#include "common/json_parse.h"
#include "common/json_write.h"

namespace tideline::pipeline::opensearch {

BulkEncoder::BulkEncoder(const OpenSearchDestinationOptions& options, uint32_t max_document_depth)
    : stable_ids_(options.document_id == DocumentIdMode::kStable),
      max_depth_(max_document_depth),
      namer_(options.index, options.rotation) {}

void BulkEncoder::Encode(std::span<const Document> docs, std::span<DeliveryResult> results,
                         EncodedDocuments& out) {
  out.text_.clear();
  out.begin_.assign(1, 0);
  out.create_.assign(docs.size(), false);
  size_t total = 0;
  for (const Document& d : docs)
    total += d.body.size() + d.id.size() + 64;
  out.text_.reserve(total);

  rapidjson::Document parsed;
  std::string compact;
  for (size_t i = 0; i < docs.size(); ++i) {
    const Document& d = docs[i];
    DeliveryResult& r = results[i];
    r.target.assign(d.index.empty() ? namer_.NameFor(d.arrival_ms) : d.index);

    std::string_view source = d.body;
    const bool one_line = std::memchr(source.data(), '\n', source.size()) == nullptr;
    if (!d.body_is_json_object || !one_line) {
      auto error = json::ParseJson(parsed, source, json::Limits{.max_depth = max_depth_});
      if (error || !parsed.IsObject()) {
        r.delivered = false;
        r.attempts = 0;
        r.error_code = "InvalidDocument";
        r.error_message =
            error ? "document is not JSON: " + *error : "document is JSON but not an object";
        out.begin_.push_back(out.text_.size());
        continue;
      }
      if (!one_line) {
        compact.clear();
        json::StringAppender sink(compact);
        json::StringWriter w(sink);
        parsed.Accept(w);
        source = compact;
      }
    }
    const bool create = stable_ids_ && !d.id.empty();
    out.create_[i] = create;
    r.auto_id = !create;
    std::string& t = out.text_;
    t.append(create ? R"({"create":{"_index":)" : R"({"index":{"_index":)");
    json::AppendJsonString(t, r.target);
    if (create) {
      t.append(R"(,"_id":)");
      json::AppendJsonString(t, d.id);
    }
    t.append("}}\n");
    t.append(source);
    t.push_back('\n');
    out.begin_.push_back(t.size());
  }
}

std::vector<BulkRequest> PlanRequests(const EncodedDocuments& encoded,
                                      std::span<const uint32_t> docs, size_t max_bytes,
                                      size_t min_requests) {
  size_t total = 0;
  for (uint32_t i : docs)
    total += encoded.Lines(i).size();
  // Share a flush among concurrent requests, but not below ~256 KiB each: small requests cost
  // the cluster more than they save in latency.
  constexpr size_t kMinShare = 256 << 10;
  size_t target = max_bytes;
  if (min_requests > 1 && total / min_requests >= kMinShare) {
    target = std::min(max_bytes, (total + min_requests - 1) / min_requests);
  }
  std::vector<BulkRequest> requests;
  BulkRequest current;
  for (uint32_t i : docs) {
    const size_t n = encoded.Lines(i).size();
    if (n == 0) continue;
    if (!current.docs.empty() && current.ndjson_bytes + n > target) {
      requests.push_back(std::move(current));
      current = BulkRequest();
    }
    current.docs.push_back(i);
    current.ndjson_bytes += n;
  }
  if (!current.docs.empty()) requests.push_back(std::move(current));
  return requests;
}

void BuildBodies(const EncodedDocuments& encoded, bool gzip, std::span<BulkRequest> requests) {
  for (BulkRequest& req : requests) {
    bool contiguous = true;
    for (size_t k = 1; k < req.docs.size() && contiguous; ++k) {
      // Runs that skip only unencodable documents (no lines) are still contiguous.
      contiguous = encoded.Lines(req.docs[k - 1]).data() + encoded.Lines(req.docs[k - 1]).size() ==
                   encoded.Lines(req.docs[k]).data();
    }
    std::string_view run;
    if (contiguous && !req.docs.empty()) {
      const std::string_view first = encoded.Lines(req.docs.front());
      const std::string_view last = encoded.Lines(req.docs.back());
      run = std::string_view(first.data(), last.data() + last.size() - first.data());
    }
    req.owned.clear();
    if (!gzip) {
      if (contiguous) {
        req.body = run;
        continue;
      }
      req.owned.reserve(req.ndjson_bytes);
      for (uint32_t i : req.docs)
        req.owned.append(encoded.Lines(i));
      req.body = req.owned;
      continue;
    }
    if (contiguous) {
      GzipAppend(run, req.owned);
    } else {
      std::string ndjson;
      ndjson.reserve(req.ndjson_bytes);
      for (uint32_t i : req.docs)
        ndjson.append(encoded.Lines(i));
      GzipAppend(ndjson, req.owned);
    }
    req.body = req.owned;
  }
}

void GzipAppend(std::string_view in, std::string& out) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream. Level 1: bulk bodies are
  // repetitive JSON, so the fastest level already shrinks them several times.
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::bad_alloc();  // deflateInit2 fails only without memory for its state
  }
  const size_t start = out.size();
  out.resize(start + deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z.avail_out = static_cast<uInt>(out.size() - start);
  const int rc = deflate(&z, Z_FINISH);
  out.resize(start + z.total_out);
  deflateEnd(&z);
  // deflateBound guarantees room for the whole stream in one Z_FINISH call.
  if (rc != Z_STREAM_END) throw std::logic_error("deflate did not finish within deflateBound");
}

}  // namespace tideline::pipeline::opensearch
