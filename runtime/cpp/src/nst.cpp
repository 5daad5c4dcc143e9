// The C ABI (nst.h): argument checks, uint8 <-> float conversion, backend choice, and the
// exception firewall that turns every C++ failure into an nst_status + thread-local message.
#include "nst/nst.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "backend.hpp"

struct nst_stylizer {
  std::unique_ptr<nst::detail::Backend> backend;
  std::vector<float> input;   // (1, 3, H, W) planes, reused across calls
  std::vector<float> output;
};

namespace {

using nst::detail::Failure;

struct LastError {
  nst_status status = NST_OK;
  std::string message;
};

/** Per-thread, so concurrent hosts never read each other's errors (as errno). */
LastError& last_error() {
  thread_local LastError error;
  return error;
}

nst_status fail(nst_status status, const std::string& message) {
  try {
    last_error().message = message;
  } catch (...) {  // no memory for the message: keep the status at least
    last_error().message.clear();
  }
  last_error().status = status;
  return status;
}

void clear_error() {
  last_error().status = NST_OK;
  last_error().message.clear();
}

/** Run `body`, mapping every exception to a status; nothing ever crosses the C boundary. */
template <typename Body>
nst_status guarded(Body&& body) {
  try {
    clear_error();
    body();
    return NST_OK;
  } catch (const Failure& e) {
    return fail(e.status, e.what());
  } catch (const std::bad_alloc&) {
    return fail(NST_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(NST_ERR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(NST_ERR_INTERNAL, "internal error: unknown exception");
  }
}

bool has_suffix(const std::string& path, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return path.size() >= n && path.compare(path.size() - n, n, suffix) == 0;
}

std::unique_ptr<nst::detail::Backend> make_backend(const std::string& path, const nst_options& o) {
  nst_backend backend = o.backend;
  if (backend == NST_BACKEND_AUTO) {
    backend = has_suffix(path, ".plan") || has_suffix(path, ".engine") ? NST_BACKEND_TENSORRT
                                                                       : NST_BACKEND_ONNXRUNTIME;
  }
  if (backend == NST_BACKEND_ONNXRUNTIME) return nst::detail::make_ort_backend(path, o);
  if (backend != NST_BACKEND_TENSORRT) {
    throw Failure(NST_ERR_INVALID_ARGUMENT, "unknown backend " + std::to_string(backend));
  }
#ifdef NST_WITH_TENSORRT
  return nst::detail::make_trt_backend(path, o);
#else
  throw Failure(NST_ERR_BACKEND_UNAVAILABLE,
                "this libnst was built without TensorRT (configure with -DNST_WITH_TENSORRT=ON) "
                "and cannot run " + path);
#endif
}

void check_image(const nst_stylizer* s, const uint8_t* rgb, int32_t width, int32_t height,
                 size_t stride, const uint8_t* out) {
  if (s == nullptr) throw Failure(NST_ERR_INVALID_ARGUMENT, "stylizer handle is NULL");
  if (rgb == nullptr || out == nullptr) {
    throw Failure(NST_ERR_INVALID_ARGUMENT, "input and output pixel pointers must not be NULL");
  }
  if (width < 1 || height < 1) {
    throw Failure(NST_ERR_INVALID_ARGUMENT, "image size " + std::to_string(width) + "x" +
                                                std::to_string(height) + " must be positive");
  }
  const nst::detail::ModelInfo& info = s->backend->info();
  if (width < info.min_size || height < info.min_size) {
    throw Failure(NST_ERR_IMAGE_TOO_SMALL,
                  "image " + std::to_string(width) + "x" + std::to_string(height) +
                      " is too small for a " + info.family +
                      " model: width and height must be >= " + std::to_string(info.min_size));
  }
  if ((info.max_height > 0 && height > info.max_height) ||
      (info.max_width > 0 && width > info.max_width)) {
    throw Failure(NST_ERR_IMAGE_TOO_LARGE,
                  "image " + std::to_string(width) + "x" + std::to_string(height) +
                      " exceeds the engine's profile maximum " + std::to_string(info.max_width) +
                      "x" + std::to_string(info.max_height) + "; rebuild the engine for it");
  }
  const size_t row = static_cast<size_t>(width) * 3;
  if (stride < row) {
    throw Failure(NST_ERR_INVALID_ARGUMENT, "stride " + std::to_string(stride) +
                                                " is less than 3 * width = " + std::to_string(row));
  }
  // 3 planes of float per pixel must be addressable (and fit ORT's int64 shapes).
  if (static_cast<size_t>(height) > std::numeric_limits<size_t>::max() / sizeof(float) / row) {
    throw Failure(NST_ERR_INVALID_ARGUMENT, "image is too large to address");
  }
}

/** Interleaved uint8 RGB rows -> planar float (1, 3, H, W) in [0, 1], as nst.io.image_from_array. */
void to_planar(const uint8_t* rgb, size_t w, size_t h, size_t stride, float* planes) {
  const size_t plane = w * h;
  for (size_t y = 0; y < h; ++y) {
    const uint8_t* row = rgb + y * stride;
    for (size_t x = 0; x < w; ++x) {
      for (size_t c = 0; c < 3; ++c) {
        planes[c * plane + y * w + x] = static_cast<float>(row[x * 3 + c]) / 255.0f;
      }
    }
  }
}

/** Planar float -> uint8 rows: rint(clip(v, 0, 1) * 255) in float32, as nst.io.write_image. */
void to_interleaved(const float* planes, size_t w, size_t h, size_t stride, uint8_t* out) {
  const size_t plane = w * h;
  for (size_t i = 0; i < 3 * plane; ++i) {
    if (!std::isfinite(planes[i])) {
      throw Failure(NST_ERR_INFERENCE, "the model produced NaN or infinite values");
    }
  }
  for (size_t y = 0; y < h; ++y) {
    uint8_t* row = out + y * stride;
    for (size_t x = 0; x < w; ++x) {
      for (size_t c = 0; c < 3; ++c) {
        const float v = std::fmin(std::fmax(planes[c * plane + y * w + x], 0.0f), 1.0f);
        row[x * 3 + c] = static_cast<uint8_t>(std::nearbyint(v * 255.0f));  // ties to even
      }
    }
  }
}

}  // namespace

extern "C" {

void nst_options_init(nst_options* options) {
  if (options == nullptr) return;
  options->struct_size = sizeof(nst_options);
  options->backend = NST_BACKEND_AUTO;
  options->num_threads = 0;
}

nst_stylizer* nst_stylizer_create(const char* model_path, const nst_options* options) {
  std::unique_ptr<nst_stylizer> stylizer;
  guarded([&] {
    nst_options defaults;
    nst_options_init(&defaults);
    if (model_path == nullptr) throw Failure(NST_ERR_INVALID_ARGUMENT, "model_path is NULL");
    if (options != nullptr && options->struct_size != sizeof(nst_options)) {
      throw Failure(NST_ERR_INVALID_ARGUMENT,
                    "options.struct_size is not sizeof(nst_options); call nst_options_init first");
    }
    const nst_options& opts = options != nullptr ? *options : defaults;
    if (opts.num_threads < 0) {
      throw Failure(NST_ERR_INVALID_ARGUMENT, "num_threads must be >= 0, got " +
                                                  std::to_string(opts.num_threads));
    }
    const std::string path(model_path);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw Failure(NST_ERR_FILE_NOT_FOUND, "model file not found: " + path);
    }
    auto backend = make_backend(path, opts);  // throws before any handle exists
    stylizer = std::make_unique<nst_stylizer>();
    stylizer->backend = std::move(backend);
  });
  return stylizer.release();  // NULL when guarded() caught a failure
}

nst_status nst_stylize(nst_stylizer* s, const uint8_t* rgb, int32_t width, int32_t height,
                       size_t stride, uint8_t* out) {
  return guarded([&] {
    check_image(s, rgb, width, height, stride, out);
    const size_t w = static_cast<size_t>(width), h = static_cast<size_t>(height);
    s->input.resize(3 * w * h);
    s->output.resize(3 * w * h);
    to_planar(rgb, w, h, stride, s->input.data());
    s->backend->run(s->input.data(), s->output.data(), height, width);
    to_interleaved(s->output.data(), w, h, stride, out);
  });
}

void nst_stylizer_destroy(nst_stylizer* stylizer) { delete stylizer; }

int32_t nst_stylizer_min_size(const nst_stylizer* s) {
  return s == nullptr ? -1 : s->backend->info().min_size;
}

const char* nst_stylizer_family(const nst_stylizer* s) {
  return s == nullptr ? "" : s->backend->info().family.c_str();
}

const char* nst_last_error(void) { return last_error().message.c_str(); }

nst_status nst_last_status(void) { return last_error().status; }

const char* nst_status_name(nst_status status) {
  switch (status) {
    case NST_OK: return "NST_OK";
    case NST_ERR_INVALID_ARGUMENT: return "NST_ERR_INVALID_ARGUMENT";
    case NST_ERR_FILE_NOT_FOUND: return "NST_ERR_FILE_NOT_FOUND";
    case NST_ERR_MODEL_INVALID: return "NST_ERR_MODEL_INVALID";
    case NST_ERR_MODEL_UNSUPPORTED: return "NST_ERR_MODEL_UNSUPPORTED";
    case NST_ERR_IMAGE_TOO_SMALL: return "NST_ERR_IMAGE_TOO_SMALL";
    case NST_ERR_IMAGE_TOO_LARGE: return "NST_ERR_IMAGE_TOO_LARGE";
    case NST_ERR_BACKEND_UNAVAILABLE: return "NST_ERR_BACKEND_UNAVAILABLE";
    case NST_ERR_ENGINE_INCOMPATIBLE: return "NST_ERR_ENGINE_INCOMPATIBLE";
    case NST_ERR_INFERENCE: return "NST_ERR_INFERENCE";
    case NST_ERR_OUT_OF_MEMORY: return "NST_ERR_OUT_OF_MEMORY";
    case NST_ERR_INTERNAL: return "NST_ERR_INTERNAL";
  }
  return "NST_ERR_UNKNOWN";
}

const char* nst_version(void) { return NST_VERSION_STRING; }

}  // extern "C"
