// The ONNX importer on hand-built ModelProtos: the error paths (truncated or
// garbage bytes, unknown ops, wrong initializer sizes, missing external data)
// and the features (typed and raw initializers, external data, Constant nodes,
// model-local functions, IR<4 initializer-inputs, unused inputs).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "frontend/onnx/importer.h"
#include "frontend/onnx/tensor_proto.h"
#include "interp/interpreter.h"

namespace weec {
namespace {

namespace fs = std::filesystem;

// A valid model skeleton: x (f32[2,3]) -> ... -> y, opset 13.
onnx::ModelProto base_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("weec-test");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  tt->mutable_shape()->add_dim()->set_dim_value(3);
  return m;
}

void add_output(onnx::ModelProto& m, const std::string& name) {
  auto* out = m.mutable_graph()->add_output();
  out->set_name(name);
  auto* tt = out->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  tt->mutable_shape()->add_dim()->set_dim_value(3);
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> ins,
                          std::vector<std::string> outs, const std::string& name = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : ins) n->add_input(i);
  for (auto& o : outs) n->add_output(o);
  return n;
}

Expected<ImportedModel> import(const onnx::ModelProto& m, const std::string& dir = "") {
  std::string bytes;
  m.SerializeToString(&bytes);
  return import_onnx_bytes(bytes, dir);
}

Tensor run1(const Graph& g, const Tensor& x) {
  auto out = run_graph(g, {&x});
  EXPECT_TRUE(out.has_value()) << out.status().message();
  return out.has_value() ? (*out)[0] : Tensor();
}

std::string err(const Expected<ImportedModel>& r) { return r.has_value() ? "" : r.status().message(); }

TEST(OnnxImport, TruncatedModelIsAnErrorAtEveryLength) {
  std::ifstream f(std::string(WEEC_SOURCE_DIR) + "/examples/fashion_mnist/model.onnx", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  ASSERT_GT(bytes.size(), 1000u);
  ASSERT_TRUE(import_onnx_bytes(bytes, "").has_value());
  for (size_t len : {size_t(0), size_t(1), size_t(7), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
    auto r = import_onnx_bytes(std::string_view(bytes).substr(0, len), "");
    EXPECT_FALSE(r.has_value()) << "length " << len;
  }
}

TEST(OnnxImport, GarbageBytesAreAnError) {
  auto r = import_onnx_bytes("this is not a protobuf \xff\xff\xff\xff", "");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(err(r).find("not a valid ONNX model"), std::string::npos) << err(r);
}

TEST(OnnxImport, MissingFileNamesThePath) {
  auto r = import_onnx_file("/nonexistent/model.onnx");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(err(r).find("/nonexistent/model.onnx"), std::string::npos);
}

TEST(OnnxImport, UnknownOpNamesOpNodeAndOpset) {
  auto m = base_model();
  m.add_opset_import()->set_domain("com.example");
  m.mutable_opset_import(1)->set_version(1);
  auto* n = add_node(m.mutable_graph(), "FrobnicateV2", {"x"}, {"y"}, "frob_1");
  n->set_domain("com.example");
  add_output(m, "y");
  auto r = import(m);
  ASSERT_FALSE(r.has_value());
  std::string e = err(r);
  EXPECT_NE(e.find("FrobnicateV2"), std::string::npos) << e;
  EXPECT_NE(e.find("frob_1"), std::string::npos) << e;
  EXPECT_NE(e.find("opset 1"), std::string::npos) << e;
  EXPECT_NE(e.find("unsupported op"), std::string::npos) << e;
}

TEST(OnnxImport, InitializerWithWrongValueCountIsAnError) {
  auto m = base_model();
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  for (int i = 0; i < 5; ++i) w->add_float_data(1.f);  // 5 values for 6 elements
  add_node(m.mutable_graph(), "Add", {"x", "w"}, {"y"});
  add_output(m, "y");
  auto r = import(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(err(r).find("'w'"), std::string::npos) << err(r);
  EXPECT_NE(err(r).find("5 values"), std::string::npos) << err(r);
}

TEST(OnnxImport, InitializerWithWrongRawByteCountIsAnError) {
  auto m = base_model();
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  w->set_raw_data(std::string(10, '\0'));  // 10 bytes, 12 needed
  add_node(m.mutable_graph(), "Add", {"x", "w"}, {"y"});
  add_output(m, "y");
  auto r = import(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(err(r).find("10 bytes"), std::string::npos) << err(r);
}

TEST(OnnxImport, TypedAndRawInitializersAndConstantNodes) {
  auto m = base_model();
  auto* g = m.mutable_graph();
  auto* w = g->add_initializer();  // raw little-endian floats
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  float wv[3] = {1.f, 2.f, 3.f};
  w->set_raw_data(std::string(reinterpret_cast<char*>(wv), sizeof wv));
  auto* c = add_node(g, "Constant", {}, {"c"});  // typed double field, then Cast
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::DOUBLE);
  a->mutable_t()->add_double_data(0.5);
  add_node(g, "Cast", {"c"}, {"cf"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto to;
    to.set_name("to");
    to.set_type(onnx::AttributeProto::INT);
    to.set_i(onnx::TensorProto::FLOAT);
    return to;
  }());
  add_node(g, "Add", {"x", "w"}, {"s"});
  add_node(g, "Mul", {"s", "cf"}, {"y"});
  add_output(m, "y");
  auto r = import(m);
  ASSERT_TRUE(r.has_value()) << err(r);
  Tensor x = Tensor::from_vector<float>({2, 3}, {0, 0, 0, 10, 10, 10});
  Tensor y = run1(*r->graph, x);
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 6),
            (std::vector<float>{0.5, 1, 1.5, 5.5, 6, 6.5}));
}

TEST(OnnxImport, ExternalDataIsReadRelativeToTheModel) {
  fs::path dir = fs::temp_directory_path() / "weec_ext_test";
  fs::create_directories(dir);
  float wv[6] = {1, 2, 3, 4, 5, 6};
  {
    std::ofstream f(dir / "weights.bin", std::ios::binary);
    f.write("PAD!", 4);  // data starts at offset 4
    f.write(reinterpret_cast<char*>(wv), sizeof wv);
  }
  auto m = base_model();
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto kv = [&](const char* k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  kv("location", "weights.bin");
  kv("offset", "4");
  kv("length", "24");
  add_node(m.mutable_graph(), "Add", {"x", "w"}, {"y"});
  add_output(m, "y");
  {
    std::ofstream f(dir / "model.onnx", std::ios::binary);
    m.SerializeToOstream(&f);
  }
  auto r = import_onnx_file((dir / "model.onnx").string());
  ASSERT_TRUE(r.has_value()) << err(r);
  Tensor y = run1(*r->graph, Tensor::from_vector<float>({2, 3}, {0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 6), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  fs::remove(dir / "weights.bin");
  auto missing = import_onnx_file((dir / "model.onnx").string());
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(err(missing).find("weights.bin"), std::string::npos) << err(missing);
  fs::remove_all(dir);
}

TEST(OnnxImport, ModelLocalFunctionsAreInlined) {
  // y = Relu(x + b) written as a function "AddRelu" in domain "local".
  auto m = base_model();
  m.add_opset_import()->set_domain("local");
  m.mutable_opset_import(1)->set_version(1);
  auto* fn = m.add_functions();
  fn->set_name("AddRelu");
  fn->set_domain("local");
  fn->add_input("a");
  fn->add_input("b");
  fn->add_output("r");
  fn->add_opset_import()->set_version(13);
  add_node(m.mutable_graph(), "Identity", {"x"}, {"xi"});
  auto* n1 = fn->add_node();
  n1->set_op_type("Add");
  n1->add_input("a");
  n1->add_input("b");
  n1->add_output("t");
  auto* n2 = fn->add_node();
  n2->set_op_type("Relu");
  n2->add_input("t");
  n2->add_output("r");
  auto* b = m.mutable_graph()->add_initializer();
  b->set_name("bias");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(3);
  for (float v : {-1.f, 0.f, 1.f}) b->add_float_data(v);
  auto* call = add_node(m.mutable_graph(), "AddRelu", {"xi", "bias"}, {"y"}, "block1");
  call->set_domain("local");
  add_output(m, "y");
  auto r = import(m);
  ASSERT_TRUE(r.has_value()) << err(r);
  std::vector<OpKind> ops;
  for (auto& n : r->graph->nodes()) ops.push_back(n->op);
  EXPECT_EQ(ops, (std::vector<OpKind>{OpKind::Identity, OpKind::Add, OpKind::Relu}));
  Tensor y = run1(*r->graph, Tensor::from_vector<float>({2, 3}, {0.5, -2, 0, 2, 2, -3}));
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 6), (std::vector<float>{0, 0, 1, 1, 2, 0}));
}

TEST(OnnxImport, InitializersListedAsInputsAreConstantsAndUnusedInputsStay) {
  auto m = base_model();
  m.set_ir_version(3);
  auto* g = m.mutable_graph();
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  for (float v : {1.f, 1.f, 1.f}) w->add_float_data(v);
  auto* win = g->add_input();  // IR v3 style: initializer also declared as an input
  win->set_name("w");
  win->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  win->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(3);
  auto* unused = g->add_input();
  unused->set_name("unused");
  unused->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  unused->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_param("K");
  add_node(g, "Add", {"x", "w"}, {"y"});
  add_output(m, "y");
  auto r = import(m);
  ASSERT_TRUE(r.has_value()) << err(r);
  ASSERT_EQ(r->graph->inputs.size(), 2u);  // x and the unused input, not w
  EXPECT_EQ(r->graph->inputs[0]->name, "x");
  EXPECT_EQ(r->graph->inputs[1]->name, "unused");
}

TEST(OnnxImport, OutputNotProducedIsAnError) {
  auto m = base_model();
  add_node(m.mutable_graph(), "Relu", {"x"}, {"y"});
  add_output(m, "z");
  auto r = import_onnx_bytes(
      [&] {
        std::string s;
        m.SerializeToString(&s);
        return s;
      }(),
      "", ImportOptions{.run_checker = false});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(err(r).find("'z'"), std::string::npos) << err(r);
}

}  // namespace
}  // namespace weec
