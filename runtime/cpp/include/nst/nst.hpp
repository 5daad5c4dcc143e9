// C++ RAII wrapper over the nst C ABI (nst.h): header-only, exceptions instead of status codes.
//
//     nst::Stylizer stylizer("model.onnx");
//     std::vector<uint8_t> out = stylizer.stylize(rgb.data(), width, height);  // throws nst::Error
//
// Only the C ABI crosses the library boundary, so hosts built with another compiler or standard
// library still link against the same libnst.
#ifndef NST_NST_HPP
#define NST_NST_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nst/nst.h"

namespace nst {

/** A failed nst call: the C status and nst_last_error()'s message. */
class Error : public std::runtime_error {
 public:
  Error(nst_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  nst_status status() const noexcept { return status_; }

 private:
  nst_status status_;
};

/** Options with defaults filled in by nst_options_init. */
inline nst_options default_options() {
  nst_options options;
  nst_options_init(&options);
  return options;
}

/** Owns one nst_stylizer handle; movable, not copyable. */
class Stylizer {
 public:
  explicit Stylizer(const std::string& model_path, const nst_options& options = default_options())
      : handle_(nst_stylizer_create(model_path.c_str(), &options)) {
    if (handle_ == nullptr) throw Error(nst_last_status(), nst_last_error());
  }
  ~Stylizer() { nst_stylizer_destroy(handle_); }
  Stylizer(const Stylizer&) = delete;
  Stylizer& operator=(const Stylizer&) = delete;
  Stylizer(Stylizer&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Stylizer& operator=(Stylizer&& other) noexcept {
    if (this != &other) {
      nst_stylizer_destroy(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }

  /** Stylize into `out` (same layout as `rgb`: rows `stride` bytes apart). */
  void stylize(const uint8_t* rgb, int32_t width, int32_t height, size_t stride, uint8_t* out) {
    nst_status status = nst_stylize(handle_, rgb, width, height, stride, out);
    if (status != NST_OK) throw Error(status, nst_last_error());
  }

  /** Stylize a tightly packed RGB image; returns a new tightly packed RGB image. */
  std::vector<uint8_t> stylize(const uint8_t* rgb, int32_t width, int32_t height) {
    if (width < 1 || height < 1) {
      throw Error(NST_ERR_INVALID_ARGUMENT, "width and height must be positive");
    }
    std::vector<uint8_t> out(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
    stylize(rgb, width, height, static_cast<size_t>(width) * 3, out.data());
    return out;
  }

  int32_t min_size() const { return nst_stylizer_min_size(handle_); }
  std::string family() const { return nst_stylizer_family(handle_); }
  nst_stylizer* get() const noexcept { return handle_; }

 private:
  nst_stylizer* handle_;
};

}  // namespace nst

#endif  // NST_NST_HPP
