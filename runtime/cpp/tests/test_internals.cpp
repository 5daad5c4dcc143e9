// libnst's internal pure functions, run on any machine (no fixture, TensorRT or GPU):
// nst.io parsing (parse_model_info) and the TensorRT backend's version decoding and shape
// checks (trt_checks.hpp). The sidecar rules over versions are in test_trt_sidecar.cpp.
//
// usage: test_internals
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "backend.hpp"
#include "trt_checks.hpp"

namespace {

using nst::detail::Failure;
using Parts = std::vector<int64_t>;

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
  failures += ok ? 0 : 1;
}

/** `body` must throw Failure(status) whose message contains `needle`. */
void check_fails(const std::function<void()>& body, nst_status status, const std::string& needle,
                 const std::string& what) {
  try {
    body();
  } catch (const Failure& e) {
    const bool ok = e.status == status && std::string(e.what()).find(needle) != std::string::npos;
    check(ok, what + " -> " + nst_status_name(e.status) + ": " + e.what());
    return;
  }
  check(false, what + " (no failure)");
}

void versions() {
  using nst::detail::decode_trt_version;
  check(decode_trt_version(110100) == Parts{11, 1, 0}, "getInferLibVersion 110100 is 11.1.0");
  check(decode_trt_version(101300) == Parts{10, 13, 0}, "101300 is 10.13.0");
  check(decode_trt_version(100703) == Parts{10, 7, 3}, "100703 is 10.7.3");
  check(decode_trt_version(8601) == Parts{8, 6, 1}, "TensorRT 8 encoding: 8601 is 8.6.1");
  check(decode_trt_version(9300) == Parts{9, 3, 0}, "9300 is 9.3.0");
  check(decode_trt_version(-1) == Parts{0, 0, 0}, "negative is 0.0.0");

  using nst::detail::parse_version;
  check(parse_version("10.3.0.26") == Parts{10, 3, 0, 26}, "parse 10.3.0.26");
  check(parse_version("11.1.0") == Parts{11, 1, 0}, "parse 11.1.0");
  check(parse_version("10.7.0.post1") == Parts{10, 7, 0, 1}, "parse keeps each piece's digits");
  check(parse_version("") == Parts{0}, "parse empty");
}

void shapes() {
  using nst::detail::check_output_shape;
  using nst::detail::tensor_elements;
  check(tensor_elements({1, 3, 17, 31}, "x") == 1581, "elements of (1, 3, 17, 31)");
  check(tensor_elements({1, 3, 0, 5}, "x") == 0, "a zero extent has no elements");
  check_fails([] { tensor_elements({1, 3, -1, 31}, "upscaled"); }, NST_ERR_INFERENCE,
              "cannot resolve the shape of tensor 'upscaled': (1, 3, -1, 31)", "unresolved dim");
  check_fails([] { tensor_elements({}, "y"); }, NST_ERR_INFERENCE, "no shape", "empty shape");
  check_fails([] { tensor_elements({int64_t{1} << 40, int64_t{1} << 40}, "y"); },
              NST_ERR_OUT_OF_MEMORY, "too large", "overflowing shape");

  check_output_shape({1, 3, 17, 31}, 17, 31, "stylized");
  check(true, "same-size output passes");
  check_fails([] { check_output_shape({1, 3, 68, 124}, 17, 31, "upscaled"); },
              NST_ERR_MODEL_UNSUPPORTED, "'upscaled' is (1, 3, 68, 124) for a (1, 3, 17, 31) input",
              "x4 super-resolution output refused");
  check_fails([] { check_output_shape({1, 3, 136, 248}, 17, 31, "upscaled"); },
              NST_ERR_MODEL_UNSUPPORTED, "(1, 3, 136, 248)", "x8 output refused");
  check_fails([] { check_output_shape({1, 1, 17, 31}, 17, 31, "mask"); },
              NST_ERR_MODEL_UNSUPPORTED, "(1, 1, 17, 31)", "other channel count refused");
}

std::string io_json(const std::string& output_shape, const std::string& dtype = "float32") {
  return R"({"inputs": [{"name": "image", "dtype": "float32",
                         "shape": ["batch", 3, "height", "width"]}],
             "outputs": [{"name": "out", "dtype": ")" + dtype + R"(", "shape": )" + output_shape +
         R"(}], "min_size": 8, "pad_multiple": 1})";
}

void model_info() {
  using nst::detail::parse_model_info;
  const std::string image = R"(["batch", 3, "height", "width"])";
  const std::string upscaled = R"(["batch", 3, "out_height", "out_width"])";
  const auto info = parse_model_info("johnson", io_json(image), "m");
  check(info.input_name == "image" && info.output_name == "out" && info.min_size == 8,
        "same-size image model parses");
  check_fails([&] { parse_model_info("sr", io_json(upscaled), "m"); },
              NST_ERR_MODEL_UNSUPPORTED, "sr output out has axes [\"batch\",3,\"out_height\"",
              "sr model (own output axes) refused at load");
  check_fails([&] { parse_model_info("x", io_json(image, "float16"), "m"); },
              NST_ERR_MODEL_UNSUPPORTED, "reads a float32 (N, 3, H, W) image; x output {",
              "float16 output refused");
  check_fails([] { parse_model_info("x", "{", "m"); }, NST_ERR_MODEL_INVALID, "malformed",
              "malformed nst.io");
}

}  // namespace

int main() {
  versions();
  shapes();
  model_info();
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
