// The engine sidecar and its load-time rules (see trt_sidecar.hpp). No TensorRT or CUDA here.
#include "trt_sidecar.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "backend.hpp"
#include "trt_checks.hpp"

namespace nst::detail {
namespace {

using nlohmann::json;

const char* label(const std::string& library) {
  if (library == kTensorRT) return "TensorRT";
  if (library == kTensorRTRtx) return "TensorRT-RTX";
  return library.c_str();
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const std::string& p : parts) text += (text.empty() ? "" : separator) + p;
  return text;
}

/** Reads the fields of one sidecar object, naming the field in every complaint. */
class Fields {
 public:
  Fields(const json& data, const std::string& source) : data_(data), source_(source) {}

  [[noreturn]] void invalid(const std::string& why) const {
    throw Failure(NST_ERR_MODEL_INVALID, source_ + " is not a valid engine sidecar: " + why);
  }

  const json* find(const char* key, bool required) const {
    const auto it = data_.find(key);
    if (it == data_.end() || it->is_null()) {
      if (required) invalid(std::string("no '") + key + "'");
      return nullptr;
    }
    return &*it;
  }

  std::string text(const char* key, bool required, const std::string& fallback = "") const {
    const json* value = find(key, required);
    if (value == nullptr) return fallback;
    if (!value->is_string()) invalid(std::string("'") + key + "' is not a string");
    return value->get<std::string>();
  }

  bool flag(const char* key) const {
    const json* value = find(key, false);
    if (value == nullptr) return false;
    if (!value->is_boolean()) invalid(std::string("'") + key + "' is not true or false");
    return value->get<bool>();
  }

  std::vector<std::string> strings(const char* key) const {
    const json* value = find(key, true);
    if (!value->is_array()) invalid(std::string("'") + key + "' is not a list");
    std::vector<std::string> items;
    for (const json& item : *value) {
      if (!item.is_string()) {
        invalid(std::string("'") + key + "' holds a non-string " + item.dump());
      }
      items.push_back(item.get<std::string>());
    }
    return items;
  }

  std::map<std::string, std::string> table(const char* key, bool required) const {
    const json* value = find(key, required);
    std::map<std::string, std::string> items;
    if (value == nullptr) return items;
    if (!value->is_object()) invalid(std::string("'") + key + "' is not an object");
    for (const auto& item : value->items()) {
      if (!item.value().is_string()) {
        invalid(std::string("'") + key + "' maps '" + item.key() + "' to a non-string " +
                item.value().dump());
      }
      items.emplace(item.key(), item.value().get<std::string>());
    }
    return items;
  }

 private:
  const json& data_;
  const std::string& source_;
};

}  // namespace

std::string default_build_command(const std::string& plan) {
  return "nst build-engine MODEL.onnx -o " + plan + " --force";
}

Sidecar parse_sidecar(const std::string& text, const std::string& source, const std::string& plan) {
  json data;
  try {
    data = json::parse(text);
  } catch (const json::exception& e) {
    throw Failure(NST_ERR_MODEL_INVALID, source + " is not a valid engine sidecar: " + e.what());
  }
  if (!data.is_object()) {
    throw Failure(NST_ERR_MODEL_INVALID,
                  source + " is not a valid engine sidecar: not a JSON object");
  }
  const auto format = data.find("format");
  if (format == data.end() || !format->is_number() || *format != kSidecarFormat) {
    const auto command = data.find("build_command");
    const bool has_command = command != data.end() && command->is_string() &&
                             !command->get<std::string>().empty();
    const std::string rebuild =
        has_command ? command->get<std::string>() : default_build_command(plan);
    const std::string which = format == data.end() ? "no sidecar format"
                                                   : "sidecar format " + format->dump();
    throw Failure(NST_ERR_MODEL_INVALID, source + " has " + which + "; this libnst reads " +
                                             std::to_string(kSidecarFormat) +
                                             ": rebuild the engine with: " + rebuild);
  }
  const Fields fields(data, source);
  Sidecar sidecar;
  sidecar.library = fields.text("library", true);
  if (sidecar.library != kTensorRT && sidecar.library != kTensorRTRtx) {
    fields.invalid("unknown library '" + sidecar.library + "' (known: " + kTensorRT + ", " +
                   kTensorRTRtx + ")");
  }
  sidecar.library_version = fields.text("library_version", true);
  if (sidecar.library_version.empty()) fields.invalid("'library_version' is empty");
  sidecar.compute_capabilities = fields.strings("compute_capabilities");
  sidecar.gpu_name = fields.text("gpu_name", false);
  sidecar.version_compatible = fields.flag("version_compatible");
  sidecar.io_dtypes = fields.table("io_dtypes", true);
  sidecar.build_command = fields.text("build_command", false);
  if (sidecar.build_command.empty()) sidecar.build_command = default_build_command(plan);
  sidecar.model_metadata = fields.table("model_metadata", false);
  return sidecar;
}

void check_library(const Sidecar& sidecar, const std::string& plan) {
  if (sidecar.library == kTensorRT) return;
  const std::string built = std::string(label(sidecar.library)) + " " + sidecar.library_version;
  std::string message = plan + " was built with " + built +
                        ", and libnst links regular TensorRT (libnvinfer) only";
  if (sidecar.library == kTensorRTRtx) {
    message +=
        ": TensorRT-RTX engines need the TensorRT-RTX runtime (run it with the Python runtime, "
        "`nst stylize " + plan + " ...` with pip install 'nst[trt-rtx]')";
  }
  throw Failure(NST_ERR_ENGINE_INCOMPATIBLE,
                message + ", or rebuild it with TensorRT on the GPU that runs it "
                          "(nst build-engine MODEL.onnx -o " + plan +
                          " --trt tensorrt --force; it was built with: " +
                          sidecar.build_command + ")");
}

std::string library_version_diff(const std::string& built, bool version_compatible,
                                 const std::vector<int64_t>& here) {
  const std::string here_text = format_version(here);
  if (built.empty()) {
    return "the sidecar records no library_version (TensorRT " + here_text + " here)";
  }
  std::vector<int64_t> engine = parse_version(built);
  engine.resize(std::min(engine.size(), here.size()));  // compare the parts the sidecar gives
  const std::vector<int64_t> mine(here.begin(), here.begin() + static_cast<long>(engine.size()));
  if (mine == engine) return "";
  if (version_compatible && !engine.empty()) {
    const int64_t major = engine[0];
    // Same major and not older, or (NVIDIA's support matrix) a TensorRT 10 engine on 11.
    if ((mine[0] == major && mine >= engine) || (major == 10 && mine[0] == 11)) return "";
    return "TensorRT " + built + " (version-compatible: needs " + std::to_string(major) +
           ".x >= " + built + (major == 10 ? " or 11.x" : "") + ") vs " + here_text + " here";
  }
  return "TensorRT " + built + " (engine) vs " + here_text + " here";
}

std::vector<std::string> device_diffs(const Sidecar& sidecar, const Platform& here) {
  std::vector<std::string> diffs;
  const auto& targets = sidecar.compute_capabilities;
  if (std::find(targets.begin(), targets.end(), here.compute_capability) == targets.end()) {
    diffs.push_back("compute capability " + here.compute_capability + " here, engine built for " +
                    (targets.empty() ? std::string("none") : join(targets, ", ")));
  }
  if (sidecar.library == kTensorRT && !sidecar.gpu_name.empty() &&
      sidecar.gpu_name != here.gpu_name) {
    diffs.push_back("GPU '" + sidecar.gpu_name + "' (engine) vs '" + here.gpu_name + "' here");
  }
  return diffs;
}

std::string platform_diffs(const Sidecar& sidecar, const Platform& here) {
  std::vector<std::string> diffs;
  const std::string version =
      library_version_diff(sidecar.library_version, sidecar.version_compatible,
                           here.library_version);
  if (!version.empty()) diffs.push_back(version);
  for (const std::string& d : device_diffs(sidecar, here)) diffs.push_back(d);
  return join(diffs, "; ");
}

void check_platform(const Sidecar& sidecar, const Platform& here, const std::string& plan) {
  check_library(sidecar, plan);
  const std::string diffs = platform_diffs(sidecar, here);
  if (!diffs.empty()) {
    throw Failure(NST_ERR_ENGINE_INCOMPATIBLE, plan + " does not match this machine: " + diffs +
                                                   "; rebuild it with: " + sidecar.build_command);
  }
}

void check_io_dtypes(const std::map<std::string, std::string>& recorded,
                     const std::map<std::string, std::string>& engine, const std::string& source) {
  std::vector<std::string> diffs;
  for (const auto& [name, dtype] : engine) {
    const auto it = recorded.find(name);
    if (it == recorded.end()) {
      diffs.push_back("'" + name + "' (" + dtype + " in the engine) is not in io_dtypes");
    } else if (it->second != dtype) {
      diffs.push_back("'" + name + "' is " + it->second + " in io_dtypes, " + dtype +
                      " in the engine");
    }
  }
  for (const auto& [name, dtype] : recorded) {
    if (engine.count(name) == 0) {
      diffs.push_back("io_dtypes has '" + name + "' (" + dtype +
                      "), the engine has no such I/O tensor");
    }
  }
  if (!diffs.empty()) {
    throw Failure(NST_ERR_MODEL_INVALID, source + " does not describe this engine's I/O: " +
                                             join(diffs, "; ") +
                                             " (rebuild the engine and its sidecar together)");
  }
}

}  // namespace nst::detail
