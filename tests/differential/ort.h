// ONNX Runtime for the differential harness: one long-lived
// `node ort_server.js` (see that file for the protocol) per harness process,
// since starting node per seed would cost more than the seed's other checks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec::diff {

class OrtServer {
 public:
  // nullptr (and `why` set) when node or bench/node_modules/onnxruntime-node
  // is missing, or the server does not start.
  static std::unique_ptr<OrtServer> start(const std::string& source_dir, std::string& why);
  ~OrtServer();
  OrtServer(const OrtServer&) = delete;
  OrtServer& operator=(const OrtServer&) = delete;

  const std::string& version() const { return version_; }

  // Exports g to ONNX and runs it in ORT on `feeds` (f32). An ORT refusal is
  // an error whose message starts with "ORT: "; an export failure is any other error.
  Expected<std::vector<Tensor>> run(const Graph& g, const std::vector<Tensor>& feeds);

 private:
  OrtServer() = default;
  std::string spawn();  // (re)starts node; "" or why not
  void stop();
  Expected<std::string> request(const std::string& line);  // one reply line

  int pid_ = -1, to_ = -1, from_ = -1;
  std::string dir_, source_dir_, version_, pending_;
  bool dead_ = false;
};

// Whether ORT's error on g is ORT lacking a kernel or feature, or a known
// deviation of ORT's (counted, not failed): "" if not, else a short reason.
std::string ort_unsupported_reason(const Graph& g, const std::string& message);

}  // namespace weec::diff
