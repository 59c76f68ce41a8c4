// Checks of an OpenSearch destination's options, for ValidatePipelineOptions and
// ValidateOpenSearchDestination (core/options.cc). Every message starts with `where`
// ("pipeline <name>: ", or "" for a destination without a pipeline).
#pragma once

#include <string>

#include "common/status.h"
#include "pipeline/options.h"

namespace tideline::pipeline::opensearch {

// The destination's own options: URLs, index name (with room for its rotation suffix), the
// numeric ranges, and username with password.
Status ValidateDestinationOptions(const OpenSearchDestinationOptions& options,
                                  const std::string& where);

// The destination's options in a pipeline: the above, then the buffer size an OpenSearch
// destination allows (Firehose's OpenSearch buffering hints: 1..100 MiB).
Status ValidatePipelineDestination(const OpenSearchDestinationOptions& options,
                                   const BufferOptions& buffer, const std::string& where);

}  // namespace tideline::pipeline::opensearch
