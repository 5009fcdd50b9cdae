/// @file serialize.hpp
/// @brief The one serialisation envelope of the core: every persisted object (sketches, indexes,
/// book snapshots) is written through `frame_writer` and read back through `frame_reader`.
///
/// Layout (all integers little-endian, independent of the host):
///
///     offset  size  field
///     0       4     magic            identifies the object kind (caller-chosen, e.g. "NTHL")
///     4       2     format version   >= 1, per object kind
///     6       2     flags            reserved, must be 0
///     8       8     payload size     bytes of payload that follow the header
///     16      n     payload          written with the put_* calls, read with the get_* calls
///     16+n    4     CRC-32C          over bytes [0, 16+n)
///
/// `frame_reader` validates all of it before handing out a single payload byte: the total size,
/// the magic, the version range, the flags, that the payload size matches the input exactly and
/// the checksum. Every later read is bounds-checked; array reads check `count * size` for
/// overflow and against the bytes that remain *before* anything is allocated, so a crafted
/// header can never make the reader allocate more than the input holds.
/// Every failure throws corrupt_data_error with a message naming what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "checked.hpp"
#include "crc32c.hpp"
#include "errors.hpp"

namespace neural_trader {

/// Size of the envelope header and trailer in bytes.
inline constexpr std::size_t frame_header_size = 16;
inline constexpr std::size_t frame_trailer_size = 4;

/// Makes a magic number from four characters, read in the order they are written.
constexpr std::uint32_t make_magic(char a, char b, char c, char d) noexcept {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(a)) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b)) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(c)) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(d)) << 24;
}

namespace detail {

template <class T>
inline constexpr bool is_wire_scalar_v =
    (std::is_integral_v<T> && !std::is_same_v<T, bool>) || std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
void store_le(unsigned char* out, T value) noexcept {
  static_assert(is_wire_scalar_v<T>);
  using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
            std::conditional_t<sizeof(T) == 2, std::uint16_t,
            std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
  U bits;
  std::memcpy(&bits, &value, sizeof(T));
  for (std::size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<unsigned char>(bits >> (8 * i));
}

template <class T>
T load_le(const unsigned char* in) noexcept {
  static_assert(is_wire_scalar_v<T>);
  using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
            std::conditional_t<sizeof(T) == 2, std::uint16_t,
            std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
  U bits = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) bits = static_cast<U>(bits | static_cast<U>(in[i]) << (8 * i));
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

}  // namespace detail

/// Builds one framed, checksummed byte string. Use: construct, put_* the payload, finish().
class frame_writer {
 public:
  frame_writer(std::uint32_t magic, std::uint16_t version) : bytes_(frame_header_size, 0) {
    if (version == 0) throw std::invalid_argument("frame_writer: format version must be >= 1");
    detail::store_le(bytes_.data(), magic);
    detail::store_le(bytes_.data() + 4, version);
    detail::store_le(bytes_.data() + 6, std::uint16_t{0});
  }

  /// Appends one scalar, little-endian.
  template <class T>
  frame_writer& put(T value) {
    static_assert(detail::is_wire_scalar_v<T>, "put() takes integers, float or double");
    check_open();
    const std::size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    detail::store_le(bytes_.data() + at, value);
    return *this;
  }

  /// Appends raw bytes (no length prefix; pair with a put() of the length where needed).
  frame_writer& put_bytes(const void* data, std::size_t size) {
    check_open();
    const auto* p = static_cast<const unsigned char*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
    return *this;
  }

  /// Appends an array of scalars, each little-endian (no length prefix).
  template <class T>
  frame_writer& put_array(const T* data, std::size_t count) {
    static_assert(detail::is_wire_scalar_v<T>);
    check_open();
    if (!checked_mul(count, sizeof(T))) throw std::length_error("frame_writer: array too large");
    const std::size_t at = bytes_.size();
    bytes_.resize(at + count * sizeof(T));
    unsigned char* out = bytes_.data() + at;
    for (std::size_t i = 0; i < count; ++i) detail::store_le(out + i * sizeof(T), data[i]);
    return *this;
  }

  /// Appends a length-prefixed (u64) string.
  frame_writer& put_string(std::string_view s) {
    put<std::uint64_t>(s.size());
    return put_bytes(s.data(), s.size());
  }

  /// Seals the frame: writes the payload size and the checksum, and returns the bytes.
  /// The writer is spent afterwards: any further call throws std::logic_error.
  std::vector<unsigned char> finish() {
    check_open();
    finished_ = true;
    detail::store_le(bytes_.data() + 8, static_cast<std::uint64_t>(bytes_.size() - frame_header_size));
    const std::uint32_t crc = crc32c(bytes_.data(), bytes_.size());
    const std::size_t at = bytes_.size();
    bytes_.resize(at + frame_trailer_size);
    detail::store_le(bytes_.data() + at, crc);
    return std::move(bytes_);
  }

 private:
  void check_open() const {
    if (finished_) throw std::logic_error("frame_writer: used after finish()");
  }

  std::vector<unsigned char> bytes_;
  bool finished_ = false;
};

/// Validates a frame on construction and then reads its payload with bounds-checked calls.
/// The reader does not own the bytes; they must outlive it.
class frame_reader {
 public:
  /// Validates everything about the frame. `what` names the object kind in error messages.
  frame_reader(const void* data, std::size_t size, std::uint32_t magic, std::uint16_t min_version,
               std::uint16_t max_version, std::string_view what = "object")
      : what_(what) {
    const auto* p = static_cast<const unsigned char*>(data);
    if (p == nullptr && size != 0) fail("null input");
    if (size < frame_header_size + frame_trailer_size) {
      fail("truncated input: " + std::to_string(size) + " bytes, a frame needs at least " +
           std::to_string(frame_header_size + frame_trailer_size));
    }
    if (detail::load_le<std::uint32_t>(p) != magic) fail("bad magic number (not a serialised " + what_ + ")");
    version_ = detail::load_le<std::uint16_t>(p + 4);
    if (version_ < min_version || version_ > max_version) {
      fail("unsupported format version " + std::to_string(version_) + " (this build reads " +
           std::to_string(min_version) + " to " + std::to_string(max_version) + ")");
    }
    if (detail::load_le<std::uint16_t>(p + 6) != 0) fail("unknown flags set in header");
    const auto payload = detail::load_le<std::uint64_t>(p + 8);
    const std::uint64_t available = size - frame_header_size - frame_trailer_size;
    if (payload != available) {
      fail(payload > available ? "truncated input: header announces " + std::to_string(payload) +
                                     " payload bytes, " + std::to_string(available) + " present"
                               : "trailing bytes after the payload");
    }
    const auto stored = detail::load_le<std::uint32_t>(p + frame_header_size + payload);
    if (stored != crc32c(p, frame_header_size + payload)) fail("checksum mismatch");
    cur_ = p + frame_header_size;
    end_ = cur_ + payload;
  }

  /// The format version found in the header.
  std::uint16_t version() const noexcept { return version_; }
  /// Payload bytes not yet read.
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - cur_); }

  /// Reads one scalar.
  template <class T>
  T get() {
    static_assert(detail::is_wire_scalar_v<T>, "get() reads integers, float or double");
    need(sizeof(T), "value");
    const T v = detail::load_le<T>(cur_);
    cur_ += sizeof(T);
    return v;
  }

  /// Reads a u64 size and checks it lies in [lo, hi].
  std::uint64_t get_size(std::uint64_t lo, std::uint64_t hi, std::string_view field) {
    const auto v = get<std::uint64_t>();
    if (v < lo || v > hi) {
      fail(std::string(field) + " = " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]");
    }
    return v;
  }

  /// Points at `size` raw payload bytes and skips them.
  const unsigned char* get_bytes(std::size_t size) {
    need(size, "bytes");
    const auto* p = cur_;
    cur_ += size;
    return p;
  }

  /// Reads `count` scalars into a new vector; checks the size before allocating.
  template <class T>
  std::vector<T> get_array(std::uint64_t count) {
    static_assert(detail::is_wire_scalar_v<T>);
    const auto bytes = checked_mul(count, sizeof(T));
    if (!bytes || *bytes > remaining()) fail("array of " + std::to_string(count) + " elements exceeds the input");
    std::vector<T> out(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = detail::load_le<T>(cur_ + i * sizeof(T));
    cur_ += *bytes;
    return out;
  }

  /// Reads a length-prefixed string (at most max_size bytes).
  std::string get_string(std::size_t max_size = 1u << 20) {
    const auto n = get_size(0, max_size, "string length");
    const auto* p = get_bytes(static_cast<std::size_t>(n));
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }

  /// Throws unless every payload byte was consumed.
  void expect_end() const {
    if (cur_ != end_) fail(std::to_string(remaining()) + " unread payload bytes");
  }

  /// Throws corrupt_data_error naming the object kind.
  [[noreturn]] void fail(const std::string& why) const {
    throw corrupt_data_error("corrupt " + what_ + " data: " + why);
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (n > remaining()) fail(std::string("truncated payload while reading ") + what);
  }

  std::string what_;
  std::uint16_t version_ = 0;
  const unsigned char* cur_ = nullptr;
  const unsigned char* end_ = nullptr;
};

}  // namespace neural_trader
