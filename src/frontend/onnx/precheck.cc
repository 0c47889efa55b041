#include "frontend/onnx/precheck.h"

#include <onnx/onnx_pb.h>

#include "frontend/onnx/tensor_proto.h"

namespace weec {

namespace {

using Nodes = google::protobuf::RepeatedPtrField<onnx::NodeProto>;

Status check_tensor(const onnx::TensorProto& t, const std::string& base_dir) {
  if (auto dt = dtype_from_onnx(t.data_type()))
    WEEC_TRY(check_tensor_size(*dt, Dims(t.dims().begin(), t.dims().end())));
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    WEEC_TRY(resolve_external_location(t, base_dir).status());
  return Status::ok();
}

Status check_nodes(const Nodes& nodes, const std::string& base_dir);

// Recursion follows subgraph nesting, which protobuf's parser has already
// bounded (100 message levels).
Status check_graph(const onnx::GraphProto& g, const std::string& base_dir) {
  for (auto& t : g.initializer())
    WEEC_TRY(check_tensor(t, base_dir).with_context(fmt::format("initializer '{}'", t.name())));
  return check_nodes(g.node(), base_dir);
}

Status check_nodes(const Nodes& nodes, const std::string& base_dir) {
  for (auto& n : nodes)
    for (auto& a : n.attribute()) {
      auto where = [&] {
        return fmt::format("node '{}' ({}) attribute '{}'", n.name(), n.op_type(), a.name());
      };
      if (a.has_t()) WEEC_TRY(check_tensor(a.t(), base_dir).with_context(where()));
      for (auto& t : a.tensors()) WEEC_TRY(check_tensor(t, base_dir).with_context(where()));
      if (a.has_g()) WEEC_TRY(check_graph(a.g(), base_dir));
      for (auto& g : a.graphs()) WEEC_TRY(check_graph(g, base_dir));
    }
  return Status::ok();
}

}  // namespace

Status precheck_tensors(const onnx::ModelProto& model, const std::string& base_dir) {
  WEEC_TRY(check_graph(model.graph(), base_dir));
  for (auto& f : model.functions()) WEEC_TRY(check_nodes(f.node(), base_dir));
  return Status::ok();
}

}  // namespace weec
