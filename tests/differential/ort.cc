#include "ort.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "frontend/onnx/export.h"

namespace weec::diff {

namespace fs = std::filesystem;

namespace {

// The JSON string after `"key":"` (the server's replies escape only `"` and `\`).
std::string json_string(const std::string& s, const std::string& key) {
  size_t at = s.find("\"" + key + "\":\"");
  if (at == std::string::npos) return "";
  std::string out;
  for (size_t i = at + key.size() + 4; i < s.size() && s[i] != '"'; ++i) out += s[i] == '\\' ? s[++i] : s[i];
  return out;
}

bool write_raw(const std::string& path, const Tensor& t) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  return static_cast<bool>(f);
}

}  // namespace

std::unique_ptr<OrtServer> OrtServer::start(const std::string& source_dir, std::string& why) {
  if (!fs::is_directory(source_dir + "/bench/node_modules/onnxruntime-node")) {
    why = source_dir + "/bench/node_modules/onnxruntime-node is not installed (cd bench && npm ci)";
    return nullptr;
  }
  char tmpl[] = "/tmp/weec-ort-XXXXXX";
  if (!mkdtemp(tmpl)) {
    why = "cannot create a temporary directory";
    return nullptr;
  }
  signal(SIGPIPE, SIG_IGN);  // a dead server is an error from write(), not the end of the harness
  std::unique_ptr<OrtServer> s(new OrtServer());
  s->dir_ = tmpl;
  s->source_dir_ = source_dir;
  if (std::string err = s->spawn(); !err.empty()) return why = err, nullptr;
  return s;
}

std::string OrtServer::spawn() {
  stop();
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return "pipe failed";
  const std::string script = source_dir_ + "/tests/differential/ort_server.js";
  const std::string modules = source_dir_ + "/bench/node_modules";
  pid_ = fork();
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    setenv("NODE_PATH", modules.c_str(), 1);
    execlp("node", "node", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  to_ = in[1], from_ = out[0], dead_ = false, pending_.clear();
  fcntl(to_, F_SETFD, FD_CLOEXEC);  // the C compiler's children must not hold the pipes
  fcntl(from_, F_SETFD, FD_CLOEXEC);
  auto ready = request("");
  if (!ready || ready->find("\"ready\"") == std::string::npos)
    return "node " + script + " did not start" + (ready ? ": " + *ready : "");
  version_ = json_string(*ready, "ready");
  return "";
}

void OrtServer::stop() {
  if (to_ >= 0) close(to_);  // the server ends at end of input
  if (from_ >= 0) close(from_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
  to_ = from_ = pid_ = -1;
}

OrtServer::~OrtServer() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Expected<std::string> OrtServer::request(const std::string& line) {
  if (dead_) return error("ORT: the server has exited");
  if (!line.empty()) {
    const std::string msg = line + "\n";
    for (size_t off = 0; off < msg.size();) {
      ssize_t n = write(to_, msg.data() + off, msg.size() - off);
      if (n <= 0) return dead_ = true, error("ORT: the server has exited");
      off += static_cast<size_t>(n);
    }
  }
  for (;;) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      std::string reply = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return reply;
    }
    char buf[4096];
    ssize_t n = read(from_, buf, sizeof buf);
    if (n <= 0) return dead_ = true, error("ORT: the server crashed");
    pending_.append(buf, static_cast<size_t>(n));
  }
}

Expected<std::vector<Tensor>> OrtServer::run(const Graph& g, const std::vector<Tensor>& feeds) {
  // After a crash (reported once, by the request that caused it) the next request gets a new server.
  if (dead_)
    if (std::string err = spawn(); !err.empty()) return error("ORT: {}", err);
  const std::string model = dir_ + "/model.onnx", out = dir_ + "/out";
  WEEC_TRY(write_onnx(g, model));
  std::string inputs;
  for (size_t i = 0; i < feeds.size(); ++i) {
    const std::string p = fmt::format("{}/in{}.bin", dir_, i);
    if (feeds[i].dtype() != DType::F32 || !write_raw(p, feeds[i])) return error("cannot write {}", p);
    inputs +=
        fmt::format("{}{{\"file\":\"{}\",\"dims\":[{}]}}", i ? "," : "", p, fmt::join(feeds[i].dims(), ","));
  }
  WEEC_ASSIGN_OR_RETURN(std::string reply, request(fmt::format(R"({{"model":"{}","inputs":[{}],"out":"{}"}})",
                                                               model, inputs, out)));
  if (reply.find("\"ok\":true") == std::string::npos) return error("ORT: {}", json_string(reply, "error"));
  std::vector<Tensor> outputs;
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    // The graph's types are static and the server only answers float32, so
    // the expected dims come from the graph; a size mismatch is caught here.
    Tensor t(DType::F32, g.outputs[k]->type.shape.static_dims());
    const std::string p = fmt::format("{}_{}.bin", out, k);
    std::error_code ec;
    if (fs::file_size(p, ec) != t.nbytes() || ec)
      return error("ORT output {} has {} bytes, expected {} ({})", k, fs::file_size(p, ec), t.nbytes(),
                   reply);
    std::ifstream(p, std::ios::binary)
        .read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    outputs.push_back(std::move(t));
  }
  return outputs;
}

// Whether a ceil_mode pool of g drops a last window that would start past the
// input (the output is one shorter than ONNX's formula, ceil((in + pads - span)
// / stride) + 1).
bool drops_window_past_input(const Graph& g) {
  for (const auto& n : g.nodes()) {
    const Attribute* ceil = n->attr("ceil_mode");
    const Attribute* auto_pad = n->attr("auto_pad");
    if (!ceil || !ceil->i || (auto_pad && auto_pad->s != "NOTSET") || !n->inputs[0]->type.shape.is_static())
      continue;
    const Dims in = n->inputs[0]->type.shape.static_dims(), out = n->outputs[0]->type.shape.static_dims();
    const std::vector<int64_t> k = n->attr("kernel_shape")->ints;
    auto get = [&](const char* key, size_t i, int64_t def) {
      const Attribute* a = n->attr(key);
      return a && i < a->ints.size() ? a->ints[i] : def;
    };
    for (size_t i = 0; i < k.size(); ++i) {
      const int64_t span = (k[i] - 1) * get("dilations", i, 1) + 1, s = get("strides", i, 1);
      const int64_t room = in[2 + i] + get("pads", i, 0) + get("pads", i + k.size(), 0) - span;
      if ((room + s - 1) / s + 1 > out[2 + i]) return true;
    }
  }
  return false;
}

std::string ort_unsupported_reason(const Graph& g, const std::string& m) {
  // At load time a later op's constant no longer broadcasts; at run time a
  // later op finds its planned buffer the wrong size.
  const bool shape_clash = m.find("ShapeInferenceError") != std::string::npos ||
                           m.find("Shape mismatch attempting to re-use buffer") != std::string::npos;
  if (shape_clash && drops_window_past_input(g))
    return "known ORT deviation: its ONNX shape inference sizes a ceil_mode pool by the formula "
           "alone, one longer than its own kernel's output (which, like weec and PyTorch, drops a last "
           "window starting past the input), so later shapes clash";
  // ORT lacks the kernel or feature; its ConvTranspose also refuses an
  // output_padding that ONNX and PyTorch allow (< max(stride, dilation)) when
  // it is not below the stride, and the combinations weec takes beyond that.
  for (const char* what : {"NOT_IMPLEMENTED", "Could not find an implementation", "not supported",
                           "may be too large for stride", "must be less than max(stride, dilation)"})
    if (m.find(what) != std::string::npos) return m.substr(m.find("ORT: ") == 0 ? 5 : 0, 240);
  return "";
}

}  // namespace weec::diff
