// The engine sidecar (format 2) and the TensorRT backend's load-time rules over it
// (trt_sidecar.hpp): parsing, the format and library refusals, the version rule of the Python
// _library_diff and the device rule of _device_diffs, and io_dtypes against the engine's.
// No TensorRT, CUDA or fixture: the cases mirror tests/runtime/test_sidecar.py.
//
// usage: test_trt_sidecar
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "trt_checks.hpp"
#include "trt_sidecar.hpp"

namespace {

using nlohmann::json;
using nst::detail::Failure;
using nst::detail::Platform;
using nst::detail::Sidecar;
using Dtypes = std::map<std::string, std::string>;

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
  failures += ok ? 0 : 1;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/** `body` must throw Failure(status) whose message contains `needle`; returns the message. */
std::string check_fails(const std::function<void()>& body, nst_status status,
                        const std::string& needle, const std::string& what) {
  try {
    body();
  } catch (const Failure& e) {
    const bool ok = e.status == status && contains(e.what(), needle);
    check(ok, what + " -> " + nst_status_name(e.status) + ": " + e.what());
    return e.what();
  }
  check(false, what + " (no failure)");
  return "";
}

/** `body` must not throw. */
void check_passes(const std::function<void()>& body, const std::string& what) {
  try {
    body();
    check(true, what);
  } catch (const Failure& e) {
    check(false, what + " -> " + nst_status_name(e.status) + ": " + e.what());
  }
}

// What `nst build-engine --trt tensorrt` records (Sidecar.to_json() of tests/runtime/
// test_sidecar.py's TRT, with this build command, precision fp32 and a family in the metadata).
const char* const kTrtJson = R"(
    {"build_command": "nst build-engine model.onnx -o model.plan --trt tensorrt --force",
    "compute_capabilities": ["9.0"], "exclude_lean_runtime": false, "format": 2,
    "gpu_name": "NVIDIA H100 80GB HBM3", "input_name": "image",
    "io_dtypes": {"image": "float32", "stylized": "float32"}, "library": "tensorrt",
    "library_version": "10.3.0.26", "model_metadata": {"nst.family": "johnson"},
    "nst_version": "0.1.0", "onnx_path": "model.onnx",
    "onnx_sha256": "abababababababababababababababababababababababababababababababab",
    "precision": "fp32",
    "profiles": [{"max": [4, 3, 2160, 3840], "min": [1, 3, 16, 16], "opt": [1, 3, 720, 1280]}],
    "source_precision": "fp32", "version_compatible": false})";
// test_sidecar.py's SIDECAR: a TensorRT-RTX build for two targets, no GPU name.
const char* const kRtxJson = R"(
    {"build_command": "nst build-engine model.onnx -o model.plan --trt rtx --compute-capability 86 --fp16 --force",
    "compute_capabilities": ["8.6", "12.0"], "exclude_lean_runtime": false, "format": 2,
    "gpu_name": "", "input_name": "image",
    "io_dtypes": {"image": "float32", "stylized": "float32"}, "library": "tensorrt_rtx",
    "library_version": "1.7.1.116", "model_metadata": {}, "nst_version": "0.1.0",
    "onnx_path": "model.onnx",
    "onnx_sha256": "abababababababababababababababababababababababababababababababab",
    "precision": "fp16",
    "profiles": [{"max": [4, 3, 2160, 3840], "min": [1, 3, 16, 16], "opt": [1, 3, 720, 1280]}],
    "source_precision": "fp32", "version_compatible": false})";
const std::string kRebuild = "nst build-engine model.onnx -o model.plan --trt tensorrt --force";
const std::string kSource = "model.plan.json";

Sidecar parse(const std::string& text) {
  return nst::detail::parse_sidecar(text, kSource, "model.plan");
}

/** kTrtJson with `edit` applied. */
std::string trt_json(const std::function<void(json&)>& edit) {
  json data = json::parse(kTrtJson);
  edit(data);
  return data.dump();
}

Sidecar trt_sidecar() { return parse(kTrtJson); }

/** test_sidecar.py's H100 for `version` ("10.3.0.26" -> {10, 3, 0, 26}). */
Platform h100(const std::string& version = "10.3.0.26") {
  return Platform{nst::detail::parse_version(version), "NVIDIA H100 80GB HBM3", "9.0"};
}

/** check_platform's verdict: "" when the engine may load, else its message. */
std::string verdict(const Sidecar& sidecar, const Platform& here) {
  try {
    nst::detail::check_platform(sidecar, here, "model.plan");
  } catch (const Failure& e) {
    return e.status == NST_ERR_ENGINE_INCOMPATIBLE ? e.what() : std::string("wrong status");
  }
  return "";
}

void formats() {
  // test_missing_or_bad_sidecar's format-1 sidecar, refused with its own rebuild command.
  const std::string old =
      R"({"format": 1, "trt_version": "10.3.0", "build_command": "nst build-engine m.onnx -o m.plan --force"})";
  const std::string message = check_fails(
      [&] { nst::detail::parse_sidecar(old, "m.plan.json", "m.plan"); }, NST_ERR_MODEL_INVALID,
      "m.plan.json has sidecar format 1; this libnst reads 2: rebuild the engine with: ",
      "format 1 refused");
  check(message == "m.plan.json has sidecar format 1; this libnst reads 2: rebuild the engine "
                   "with: nst build-engine m.onnx -o m.plan --force",
        "format 1 message ends with the sidecar's build_command");
  // The format-1 fields libnst used to read: still format 1, still refused.
  const std::string v1 = R"({"format": 1, "trt_version": "11.1.0.106", "compute_capability": "9.0",
                             "gpu_name": "NVIDIA H100 80GB HBM3", "model_metadata": {}})";
  check_fails([&] { parse(v1); }, NST_ERR_MODEL_INVALID,
              "format 1; this libnst reads 2: rebuild the engine with: nst build-engine "
              "MODEL.onnx -o model.plan --force",
              "format 1 without build_command: the default rebuild command");
  check_fails([] { parse(trt_json([](json& d) { d["format"] = 3; })); }, NST_ERR_MODEL_INVALID,
              "has sidecar format 3; this libnst reads 2: rebuild the engine with: " + kRebuild,
              "unknown format 3 refused with the build_command");
  check_fails([] { parse(trt_json([](json& d) { d["format"] = "2"; })); }, NST_ERR_MODEL_INVALID,
              "sidecar format \"2\"", "format \"2\" (a string) refused");
  check_fails([] { parse(trt_json([](json& d) { d.erase("format"); })); },
              NST_ERR_MODEL_INVALID, "has no sidecar format; this libnst reads 2",
              "missing format refused");
  check_fails([] { parse("[1, 2]"); }, NST_ERR_MODEL_INVALID,
              "model.plan.json is not a valid engine sidecar: not a JSON object", "a JSON list");
  check_fails([] { parse("{"); }, NST_ERR_MODEL_INVALID, "is not a valid engine sidecar",
              "not JSON");
}

void format2() {
  const Sidecar s = trt_sidecar();
  check(s.library == "tensorrt" && s.library_version == "10.3.0.26", "format 2: library");
  check(s.compute_capabilities == std::vector<std::string>{"9.0"}, "format 2: targets");
  check(s.gpu_name == "NVIDIA H100 80GB HBM3" && !s.version_compatible, "format 2: gpu_name");
  check(s.io_dtypes == Dtypes{{"image", "float32"}, {"stylized", "float32"}},
        "format 2: io_dtypes");
  check(s.build_command == kRebuild, "format 2: build_command");
  check(s.model_metadata == Dtypes{{"nst.family", "johnson"}}, "format 2: model_metadata");

  const Sidecar rtx = parse(kRtxJson);
  check(rtx.library == "tensorrt_rtx" && rtx.library_version == "1.7.1.116" &&
            rtx.compute_capabilities == std::vector<std::string>{"8.6", "12.0"} &&
            rtx.gpu_name.empty() && rtx.model_metadata.empty(),
        "format 2: a TensorRT-RTX sidecar parses (it is refused later, by check_library)");

  const Sidecar lean = parse(trt_json([](json& d) {
    d.erase("gpu_name");
    d.erase("build_command");
    d.erase("model_metadata");
    d["version_compatible"] = true;
  }));
  check(lean.gpu_name.empty() && lean.version_compatible && lean.model_metadata.empty() &&
            lean.build_command == "nst build-engine MODEL.onnx -o model.plan --force",
        "format 2: optional fields default (no gpu_name, default rebuild command)");

  for (const char* key : {"library", "library_version", "compute_capabilities", "io_dtypes"}) {
    check_fails([&] { parse(trt_json([&](json& d) { d.erase(key); })); }, NST_ERR_MODEL_INVALID,
                std::string("is not a valid engine sidecar: no '") + key + "'",
                std::string("format 2 without ") + key + " refused");
  }
  const std::vector<std::pair<std::function<void(json&)>, std::string>> wrong = {
      {[](json& d) { d["library"] = "onnxruntime"; }, "unknown library 'onnxruntime'"},
      {[](json& d) { d["library_version"] = ""; }, "'library_version' is empty"},
      {[](json& d) { d["library_version"] = 10; }, "'library_version' is not a string"},
      {[](json& d) { d["compute_capabilities"] = "9.0"; }, "'compute_capabilities' is not a list"},
      {[](json& d) { d["compute_capabilities"] = json::array({90}); }, "holds a non-string 90"},
      {[](json& d) { d["io_dtypes"] = json::object({{"image", 1}}); },
       "'io_dtypes' maps 'image' to a non-string"},
      {[](json& d) { d["io_dtypes"] = json::array(); }, "'io_dtypes' is not an object"},
      {[](json& d) { d["version_compatible"] = "yes"; }, "'version_compatible' is not true or"},
      {[](json& d) { d["gpu_name"] = 0; }, "'gpu_name' is not a string"},
  };
  for (const auto& [edit, needle] : wrong) {
    check_fails([&] { parse(trt_json(edit)); }, NST_ERR_MODEL_INVALID, needle,
                "malformed format 2 refused: " + needle);
  }
}

void libraries() {
  const Sidecar rtx = parse(kRtxJson);
  const std::string message = check_fails(
      [&] { nst::detail::check_library(rtx, "model.plan"); }, NST_ERR_ENGINE_INCOMPATIBLE,
      "model.plan was built with TensorRT-RTX 1.7.1.116, and libnst links regular TensorRT "
      "(libnvinfer) only: TensorRT-RTX engines need the TensorRT-RTX runtime",
      "TensorRT-RTX engine refused");
  check(contains(message, "nst[trt-rtx]") && contains(message, "--trt tensorrt") &&
            contains(message, "it was built with: nst build-engine model.onnx -o model.plan "
                              "--trt rtx --compute-capability 86 --fp16 --force"),
        "the RTX refusal says how to run it and how to rebuild it");
  // Even on a platform its version, targets and GPU would match.
  const Platform a6000{{1, 7, 1, 116}, "NVIDIA RTX A6000", "8.6"};
  check(contains(verdict(rtx, a6000), "TensorRT-RTX engines need the TensorRT-RTX runtime"),
        "check_platform refuses the RTX engine on a matching platform too");
  nst::detail::check_library(trt_sidecar(), "model.plan");
  check(true, "a tensorrt engine passes check_library");
}

void versions() {
  using nst::detail::library_version_diff;
  const Sidecar trt = trt_sidecar();
  check(verdict(trt, h100()).empty(), "check_compat(TRT, H100) passes");
  // (TRT, H100 with 10.4.0.1): not version-compatible, so another release is a difference.
  const std::string message = verdict(trt, h100("10.4.0.1"));
  check(message == "model.plan does not match this machine: TensorRT 10.3.0.26 (engine) vs "
                   "10.4.0.1 here; rebuild it with: " + kRebuild,
        "another TensorRT release refused, with the rebuild command: " + message);

  // test_version_compatible_tensorrt_engines.
  const std::vector<std::tuple<std::string, std::string, bool>> cases = {
      {"10.3.0.26", "10.3.0.26", true}, {"10.3.0.26", "10.8.0.43", true},
      {"10.3.0.26", "11.4.0.106", true}, {"10.3.0.26", "10.2.0", false},
      {"11.1.0", "11.0.0", false},      {"11.1.0", "10.9.0", false},
  };
  for (const auto& [built, here, ok] : cases) {
    Sidecar vc = trt;
    vc.version_compatible = true;
    vc.library_version = built;
    const std::string diff = verdict(vc, h100(here));
    const std::string needle = "version-compatible: needs " + built.substr(0, 2) + ".x >= " + built;
    check(ok ? diff.empty() : contains(diff, needle),
          "version-compatible " + built + " on " + here + (ok ? " runs" : " refused: " + diff));
  }
  // The messages, and the rule's edges.
  const std::vector<int64_t> here{11, 1, 0, 106};
  check(library_version_diff("11.1.0.106", false, here).empty(), "exact version matches");
  check(library_version_diff("11.1.0", false, here).empty(),
        "a 3-part sidecar version (older wheels' __version__) does not demand a build number");
  check(library_version_diff("11.1.0.105", false, here) ==
            "TensorRT 11.1.0.105 (engine) vs 11.1.0.106 here",
        "another build of the same release differs");
  check(library_version_diff("10.3.0.26", true, {10, 2, 0, 0}) ==
            "TensorRT 10.3.0.26 (version-compatible: needs 10.x >= 10.3.0.26 or 11.x) vs "
            "10.2.0.0 here",
        "version-compatible 10 engine message names 11.x as Python's does");
  check(library_version_diff("11.1.0.106", true, {11, 0, 0, 5}) ==
            "TensorRT 11.1.0.106 (version-compatible: needs 11.x >= 11.1.0.106) vs 11.0.0.5 here",
        "version-compatible 11 engine refused on older 11.0, no later major");
  check(contains(library_version_diff("10.3.0.26", true, {12, 0, 0, 0}), "needs 10.x"),
        "version-compatible 10 engine refused on 12");
  check(!library_version_diff("8.6.1", true, {10, 7, 0, 23}).empty(),
        "version-compatible 8.6 engine refused on 10 (Python's rule: only 10 -> 11 crosses)");
  check(!library_version_diff("10.3.0.26", false, {11, 0, 0, 0}).empty(),
        "not version-compatible: 10 engine refused on 11");
  check(contains(library_version_diff("", false, here), "no library_version"),
        "no version is a difference");
}

void devices() {
  Sidecar targets = trt_sidecar();
  targets.compute_capabilities = {"8.6", "12.0"};
  targets.gpu_name = "";  // a build for named targets: not tied to one card
  const std::vector<int64_t> v{10, 3, 0, 26};
  check(verdict(targets, {v, "NVIDIA RTX A6000", "8.6"}).empty(), "CC 8.6 is a target");
  check(verdict(targets, {v, "NVIDIA GeForce RTX 5090", "12.0"}).empty(), "CC 12.0 is a target");
  check(verdict(targets, {v, "NVIDIA GeForce RTX 3090", "8.6"}).empty(),
        "gpu_name empty: another card of a target CC loads it");
  const std::string cc = verdict(targets, {v, "NVIDIA RTX A6000", "8.9"});
  check(cc == "model.plan does not match this machine: compute capability 8.9 here, engine "
              "built for 8.6, 12.0; rebuild it with: " + kRebuild,
        "CC 8.9 is not a target: " + cc);
  targets.compute_capabilities.clear();
  check(contains(verdict(targets, {v, "NVIDIA RTX A6000", "8.6"}), "engine built for none"),
        "no targets: every CC refused");

  const Sidecar trt = trt_sidecar();  // gpu_name set: the card must be the same
  const std::string gpu = verdict(trt, {v, "NVIDIA H200", "9.0"});
  check(contains(gpu, "GPU 'NVIDIA H100 80GB HBM3' (engine) vs 'NVIDIA H200' here"),
        "gpu_name set: another card of the same CC refused: " + gpu);
  // test_every_difference_is_listed: Platform("tensorrt", "10.0.1", "NVIDIA L4", "8.9").
  const std::string all = verdict(trt, {{10, 0, 1}, "NVIDIA L4", "8.9"});
  const size_t a = all.find("TensorRT 10.3.0.26"), b = all.find("; compute capability 8.9"),
               c = all.find("; GPU 'NVIDIA H100");
  check(a != std::string::npos && b != std::string::npos && c != std::string::npos && a < b &&
            b < c,
        "every difference is listed, in Python's order: " + all);
  // The GPU model is a TensorRT rule only (device_diffs alone, for an RTX sidecar).
  Sidecar rtx = parse(kRtxJson);
  rtx.gpu_name = "NVIDIA RTX A6000";
  check(nst::detail::device_diffs(rtx, {{1, 7, 1, 116}, "NVIDIA GeForce RTX 3090", "8.6"}).empty(),
        "an RTX sidecar's gpu_name is not compared");
}

void io_dtypes() {
  using nst::detail::check_io_dtypes;
  const Dtypes recorded = trt_sidecar().io_dtypes;
  const Dtypes same{{"image", "float32"}, {"stylized", "float32"}};
  const Dtypes fp16_image{{"image", "float16"}, {"stylized", "float32"}};
  const Dtypes renamed{{"image", "float32"}, {"out", "float32"}};
  check_passes([&] { check_io_dtypes(recorded, same, kSource); },
               "io_dtypes equal to the engine's pass");
  check_fails([&] { check_io_dtypes(recorded, fp16_image, kSource); },
              NST_ERR_MODEL_INVALID,
              "model.plan.json does not describe this engine's I/O: 'image' is float32 in "
              "io_dtypes, float16 in the engine",
              "a dtype mismatch refused");
  check_fails([&] {
                check_io_dtypes(recorded, {{"image", "float32"}, {"stylized", "float32"},
                                           {"style_weights", "float32"}}, kSource);
              },
              NST_ERR_MODEL_INVALID, "'style_weights' (float32 in the engine) is not in io_dtypes",
              "an engine tensor the sidecar lacks refused");
  check_fails([&] { check_io_dtypes(recorded, renamed, kSource); },
              NST_ERR_MODEL_INVALID,
              "'out' (float32 in the engine) is not in io_dtypes; io_dtypes has 'stylized' "
              "(float32), the engine has no such I/O tensor",
              "renamed tensor: both sides listed");
  check_fails([&] { check_io_dtypes({}, {{"image", "float32"}}, kSource); },
              NST_ERR_MODEL_INVALID, "'image' (float32 in the engine) is not in io_dtypes",
              "empty io_dtypes refused against a real engine");
}

}  // namespace

int main() {
  formats();
  format2();
  libraries();
  versions();
  devices();
  io_dtypes();
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
