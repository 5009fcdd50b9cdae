/// @file shared.hpp
/// @brief An SPSC ring of fixed-size records in named shared memory, for two processes.
///
/// One process creates the segment (`shared_spsc_ring::create`) and is its owner: only the owner
/// removes the name (`unlink()`, or its destructor). Another process attaches by name
/// (`shared_spsc_ring::attach`), which validates the whole header before use: a segment of
/// another kind, another layout version, inconsistent sizes, or one not yet initialised raises
/// corrupt_data_error rather than crash.
///
/// The OS's shared memory is used directly: POSIX shm_open/mmap, or a named file mapping on
/// Windows (where the name lives while any process holds it open, so unlink() only drops the
/// owner's claim).
///
/// Segment layout (layout version 1):
///
///     [shared_ring_header, padded to 512 + 1024 bytes][spsc_control, 384 bytes][capacity x record_size]
///
/// Thread safety: one producer (thread or process) and one consumer, as for spsc_record_view.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "../common/checked.hpp"
#include "../common/config.hpp"
#include "../common/errors.hpp"
#include "spsc.hpp"

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace neural_trader::ring {

/// Thrown by create() when the name is taken.
class name_exists_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown by attach() when no segment has the name.
class name_not_found_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The first bytes of a shared ring segment.
struct shared_ring_header {
  static constexpr std::uint64_t magic_value = 0x474E495248535452ull;  // "RTSHRING" little-endian
  static constexpr std::uint32_t layout_version_value = 1;
  static constexpr std::size_t meta_capacity = 1024;
  static constexpr std::uint32_t ready_value = 0x52454459u;

  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t record_size;
  std::uint64_t capacity;
  std::uint64_t total_size;
  std::uint64_t meta_size;
  std::uint64_t creator_pid;
  std::atomic<std::uint32_t> ready;  // written last, with release, by the creator
  char reserved[512 - 52];
  char meta[meta_capacity];          // caller's description of the records (e.g. a dtype)
};

static_assert(sizeof(shared_ring_header) == 512 + shared_ring_header::meta_capacity);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

class shared_spsc_ring {
 public:
  static constexpr std::size_t control_offset = sizeof(shared_ring_header);
  static constexpr std::size_t data_offset = control_offset + sizeof(spsc_control);
  static constexpr std::size_t max_name_length = 30;  // macOS allows 31 with the leading '/'

  /// Bytes of a segment for the given geometry; throws std::length_error on overflow.
  static std::uint64_t segment_size(std::uint64_t capacity, std::uint64_t record_size) {
    const auto data = checked_mul(capacity, record_size);
    const auto total = data ? checked_add(*data, data_offset) : std::nullopt;
    if (!total || *total > (std::uint64_t{1} << 46)) throw std::length_error("shared ring: segment too large");
    return *total;
  }

  /// Creates a new segment; throws name_exists_error when the name is taken.
  static shared_spsc_ring create(std::string_view name, std::uint64_t capacity, std::size_t record_size,
                                 std::string_view meta = {}) {
    detail::check_capacity(capacity, "shared ring");
    if (record_size == 0 || record_size > 0xFFFFFFFFu) throw std::invalid_argument("shared ring: bad record size");
    if (meta.size() > shared_ring_header::meta_capacity) {
      throw std::invalid_argument("shared ring: metadata longer than " +
                                  std::to_string(shared_ring_header::meta_capacity) + " bytes");
    }
    const std::uint64_t total = segment_size(capacity, record_size);
    shared_spsc_ring r;
    r.name_ = check_name(name);
    r.map_new(total);
    r.owner_ = true;
    auto* h = r.header();
    h->magic = shared_ring_header::magic_value;
    h->layout_version = shared_ring_header::layout_version_value;
    h->record_size = static_cast<std::uint32_t>(record_size);
    h->capacity = capacity;
    h->total_size = total;
    h->meta_size = meta.size();
    h->creator_pid = current_pid();
    if (!meta.empty()) std::memcpy(h->meta, meta.data(), meta.size());
    r.meta_size_ = meta.size();
    ::new (static_cast<void*>(r.base_ + control_offset)) spsc_control();
    r.view_ = spsc_record_view(r.control(), r.base_ + data_offset, capacity, record_size);
    h->ready.store(shared_ring_header::ready_value, std::memory_order_release);
    return r;
  }

  /// Attaches to an existing segment; validates its header. Throws name_not_found_error or
  /// corrupt_data_error.
  static shared_spsc_ring attach(std::string_view name) {
    shared_spsc_ring r;
    r.name_ = check_name(name);
    const std::uint64_t mapped = r.map_existing();
    if (mapped < data_offset) throw corrupt_data_error("shared ring '" + r.name_ + "': segment too small for a header");
    const auto* h = r.header();
    const std::uint32_t ready = h->ready.load(std::memory_order_acquire);
    // Validate a private copy of the header's fields, then use only the copy: another process
    // writing the header meanwhile cannot slip a value past the checks.
    std::uint64_t magic, capacity, total_size, meta_size;
    std::uint32_t layout_version, record_size;
    std::memcpy(&magic, &h->magic, sizeof magic);
    std::memcpy(&layout_version, &h->layout_version, sizeof layout_version);
    std::memcpy(&record_size, &h->record_size, sizeof record_size);
    std::memcpy(&capacity, &h->capacity, sizeof capacity);
    std::memcpy(&total_size, &h->total_size, sizeof total_size);
    std::memcpy(&meta_size, &h->meta_size, sizeof meta_size);
    const std::string who = "shared ring '" + r.name_ + "': ";
    if (magic == 0 && ready == 0) throw corrupt_data_error(who + "segment not initialised (yet)");
    if (magic != shared_ring_header::magic_value) throw corrupt_data_error(who + "not a neural-trader ring (bad magic)");
    if (ready != shared_ring_header::ready_value) throw corrupt_data_error(who + "segment not initialised (yet)");
    if (layout_version != shared_ring_header::layout_version_value) {
      throw corrupt_data_error(who + "unsupported layout version " + std::to_string(layout_version));
    }
    if (!is_power_of_two(capacity) || capacity > (std::uint64_t{1} << 62) || record_size == 0 ||
        meta_size > shared_ring_header::meta_capacity) {
      throw corrupt_data_error(who + "inconsistent header");
    }
    const auto data = checked_mul(capacity, record_size);
    const auto total = data ? checked_add(*data, data_offset) : std::nullopt;
    if (!total || *total != total_size || total_size > mapped) {
      throw corrupt_data_error(who + "header sizes disagree with the segment");
    }
    const spsc_control* c = r.control();
    const auto rd = c->read.load(std::memory_order_acquire);
    const auto wr = c->write.load(std::memory_order_acquire);
    if (rd > wr || wr - rd > capacity) throw corrupt_data_error(who + "read/write counters are inconsistent");
    r.meta_size_ = static_cast<std::size_t>(meta_size);
    r.view_ = spsc_record_view(r.control(), r.base_ + data_offset, capacity, record_size);
    return r;
  }

  shared_spsc_ring(shared_spsc_ring&& o) noexcept { *this = std::move(o); }
  shared_spsc_ring& operator=(shared_spsc_ring&& o) noexcept {
    if (this != &o) {
      release();
      name_ = std::move(o.name_);
      base_ = o.base_;
      size_ = o.size_;
      owner_ = o.owner_;
      meta_size_ = o.meta_size_;
      view_ = o.view_;
#if defined(_WIN32)
      handle_ = o.handle_;
      o.handle_ = nullptr;
#endif
      o.base_ = nullptr;
      o.size_ = 0;
      o.owner_ = false;
    }
    return *this;
  }
  shared_spsc_ring(const shared_spsc_ring&) = delete;
  shared_spsc_ring& operator=(const shared_spsc_ring&) = delete;
  ~shared_spsc_ring() { release(); }

  /// The ring operations (push/pop/peek/close...), over the shared memory.
  spsc_record_view& view() noexcept { return view_; }
  const std::string& name() const noexcept { return name_; }
  bool owner() const noexcept { return owner_; }
  /// The creator's description of the records (as validated at create/attach); empty once released.
  std::string_view meta() const noexcept {
    if (base_ == nullptr) return {};
    return {const_cast<shared_spsc_ring*>(this)->header()->meta, meta_size_};
  }
  /// The creator's process id; 0 once released.
  std::uint64_t creator_pid() const noexcept {
    return base_ == nullptr ? 0 : const_cast<shared_spsc_ring*>(this)->header()->creator_pid;
  }
  bool mapped() const noexcept { return base_ != nullptr; }

  /// Removes the name (owner only; a no-op for attached handles). Mappings stay valid.
  void unlink() noexcept {
    if (!owner_) return;
    owner_ = false;
#if !defined(_WIN32)
    ::shm_unlink(posix_name().c_str());
#endif
  }

  /// Unmaps the segment (and unlinks it when this is the owner). Idempotent.
  void release() noexcept {
    if (base_ == nullptr) return;
    unlink();
#if defined(_WIN32)
    ::UnmapViewOfFile(base_);
    if (handle_ != nullptr) ::CloseHandle(handle_);
    handle_ = nullptr;
#else
    ::munmap(base_, static_cast<std::size_t>(size_));
#endif
    base_ = nullptr;
    size_ = 0;
    view_ = spsc_record_view();
  }

  /// Removes a name left behind, e.g. by an owner that crashed (POSIX; a no-op on Windows).
  static void remove(std::string_view name) noexcept {
#if !defined(_WIN32)
    const std::string n = "/" + std::string(name);
    ::shm_unlink(n.c_str());
#else
    (void)name;
#endif
  }

 private:
  shared_spsc_ring() = default;

  static std::string check_name(std::string_view name) {
    if (name.empty() || name.size() > max_name_length) {
      throw std::invalid_argument("shared ring: name must be 1 to " + std::to_string(max_name_length) +
                                  " characters");
    }
    for (char ch : name) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                      ch == '-' || ch == '.';
      if (!ok) throw std::invalid_argument("shared ring: name may hold only letters, digits, '_', '-' and '.'");
    }
    const char first = name.front();
    if (first == '.' || first == '-') {
      throw std::invalid_argument("shared ring: name must start with a letter, a digit or '_'");
    }
    return std::string(name);
  }

  static std::uint64_t current_pid() noexcept {
#if defined(_WIN32)
    return ::GetCurrentProcessId();
#else
    return static_cast<std::uint64_t>(::getpid());
#endif
  }

  shared_ring_header* header() noexcept { return std::launder(reinterpret_cast<shared_ring_header*>(base_)); }
  spsc_control* control() noexcept { return std::launder(reinterpret_cast<spsc_control*>(base_ + control_offset)); }

#if defined(_WIN32)
  std::wstring win_name() const { return L"Local\\nt_ring_" + std::wstring(name_.begin(), name_.end()); }

  void map_new(std::uint64_t total) {
    handle_ = ::CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE, static_cast<DWORD>(total >> 32),
                                   static_cast<DWORD>(total & 0xFFFFFFFFu), win_name().c_str());
    if (handle_ == nullptr) throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), "CreateFileMapping");
    if (::GetLastError() == ERROR_ALREADY_EXISTS) {
      ::CloseHandle(handle_);
      handle_ = nullptr;
      throw name_exists_error("shared ring '" + name_ + "' already exists");
    }
    map_view(total);
  }

  std::uint64_t map_existing() {
    handle_ = ::OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, win_name().c_str());
    if (handle_ == nullptr) throw name_not_found_error("shared ring '" + name_ + "' does not exist");
    map_view(0);
    MEMORY_BASIC_INFORMATION info{};
    ::VirtualQuery(base_, &info, sizeof(info));
    size_ = info.RegionSize;
    return size_;
  }

  void map_view(std::uint64_t total) {
    void* p = ::MapViewOfFile(handle_, FILE_MAP_ALL_ACCESS, 0, 0, static_cast<SIZE_T>(total));
    if (p == nullptr) {
      const auto err = ::GetLastError();
      ::CloseHandle(handle_);
      handle_ = nullptr;
      throw std::system_error(static_cast<int>(err), std::system_category(), "MapViewOfFile");
    }
    base_ = static_cast<std::byte*>(p);
    size_ = total;
  }

  HANDLE handle_ = nullptr;
#else
  std::string posix_name() const { return "/" + name_; }

  void map_new(std::uint64_t total) {
    const std::string n = posix_name();
    const int fd = ::shm_open(n.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
      if (errno == EEXIST) throw name_exists_error("shared ring '" + name_ + "' already exists");
      throw std::system_error(errno, std::generic_category(), "shm_open");
    }
    if (::ftruncate(fd, static_cast<off_t>(total)) != 0) {
      const int err = errno;
      ::close(fd);
      ::shm_unlink(n.c_str());
      throw std::system_error(err, std::generic_category(), "ftruncate");
    }
    void* p = ::mmap(nullptr, static_cast<std::size_t>(total), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) {
      ::shm_unlink(n.c_str());
      throw std::system_error(err, std::generic_category(), "mmap");
    }
    base_ = static_cast<std::byte*>(p);
    size_ = total;
  }

  std::uint64_t map_existing() {
    const std::string n = posix_name();
    const int fd = ::shm_open(n.c_str(), O_RDWR, 0600);
    if (fd < 0) {
      if (errno == ENOENT) throw name_not_found_error("shared ring '" + name_ + "' does not exist");
      throw std::system_error(errno, std::generic_category(), "shm_open");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "fstat");
    }
    const auto total = static_cast<std::uint64_t>(st.st_size);
    if (total < data_offset) {
      ::close(fd);
      throw corrupt_data_error("shared ring '" + name_ + "': segment too small for a header");
    }
    void* p = ::mmap(nullptr, static_cast<std::size_t>(total), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw std::system_error(err, std::generic_category(), "mmap");
    base_ = static_cast<std::byte*>(p);
    size_ = total;
    return total;
  }
#endif

  std::string name_;
  std::byte* base_ = nullptr;
  std::uint64_t size_ = 0;
  bool owner_ = false;
  std::size_t meta_size_ = 0;
  spsc_record_view view_;
};

}  // namespace neural_trader::ring
