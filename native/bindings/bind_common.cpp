// Python bindings of the shared foundations: error translation, build information, the thread
// cap, and a thin access to the serialisation envelope (for tests and for Python-side formats).
#include <pybind11/stl.h>

#include <string>

#include <neural_trader/common/cpu.hpp>
#include <neural_trader/common/errors.hpp>
#include <neural_trader/common/serialize.hpp>
#include <neural_trader/common/threads.hpp>
#include <neural_trader/ring/shared.hpp>
#include <neural_trader/version.hpp>

#include "common.hpp"

#ifndef NT_BUILD_TYPE
#define NT_BUILD_TYPE "unknown"
#endif

namespace {

std::string compiler_string() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_FULL_VER);
#else
  return "unknown";
#endif
}

void set_error(const char* cls, const char* what) { nt_bind::set_nt_error(cls, what); }

}  // namespace

void bind_common(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const nt_bind::dtype_error& e) {
      set_error("DTypeError", e.what());
    } catch (const neural_trader::corrupt_data_error& e) {
      set_error("CorruptDataError", e.what());
    } catch (const neural_trader::closed_error& e) {
      set_error("ClosedError", e.what());
    } catch (const neural_trader::timeout_error& e) {
      set_error("TimeoutError", e.what());
    } catch (const neural_trader::ring::name_exists_error& e) {
      set_error("NameExistsError", e.what());
    } catch (const neural_trader::ring::name_not_found_error& e) {
      set_error("NameNotFoundError", e.what());
    } catch (const std::invalid_argument& e) {
      set_error("InvalidArgumentError", e.what());
    } catch (const std::length_error& e) {
      set_error("InvalidArgumentError", e.what());
    }
  });

  m.def("_build_info", [] {
    py::dict d;
    d["version"] = NEURAL_TRADER_VERSION;
    d["compiler"] = compiler_string();
    d["cxx_standard"] = static_cast<long>(__cplusplus);
    d["build_type"] = NT_BUILD_TYPE;
    const auto choice = neural_trader::choose_simd_level();
    d["simd"] = neural_trader::to_string(choice.level);
    d["simd_best"] = neural_trader::to_string(neural_trader::best_simd_level());
    d["simd_requested"] = choice.requested;
    d["simd_request_ignored"] = choice.ignored;
    // Whether this process runs the AVX2+FMA copies of the indicator and sketch batch loops.
    d["batch_kernels"] = neural_trader::use_avx2_fma_kernels() ? "avx2+fma" : "baseline";
    d["cpu_features"] = neural_trader::cpu().names();
    d["available_cores"] = neural_trader::available_cores();
    d["num_threads"] = neural_trader::get_num_threads();
#if defined(NDEBUG)
    d["assertions"] = false;
#else
    d["assertions"] = true;
#endif
    return d;
  }, "Compile-time and run-time facts of the compiled core (see neural_trader.build_info).");

  m.def("set_num_threads", &neural_trader::set_num_threads, py::arg("n"),
        "Cap the threads any parallel call may use (n >= 1); 0 restores the default (the cores available).\n\n"
        "Parallel calls run on worker threads kept between calls (started on first use, as many as\n"
        "the largest call has needed, less the calling thread). An idle worker spins for 200\n"
        "microseconds after its last piece of work, then sleeps. A process forked after a\n"
        "parallel call starts its own workers.");
  m.def("get_num_threads", &neural_trader::get_num_threads, "The current thread cap.");

  m.def("_frame_pack", [](std::uint32_t magic, std::uint16_t version, const py::bytes& payload) {
    const std::string p = payload;
    neural_trader::frame_writer w(magic, version);
    w.put_bytes(p.data(), p.size());
    auto out = w.finish();
    return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
  }, py::arg("magic"), py::arg("version"), py::arg("payload"),
        "Wrap payload bytes in the core's serialisation envelope (magic, version, size, CRC-32C).");
  m.def("_frame_unpack", [](const py::bytes& data, std::uint32_t magic, std::uint16_t min_version,
                            std::uint16_t max_version, const std::string& what) {
    const std::string d = data;
    neural_trader::frame_reader r(d.data(), d.size(), magic, min_version, max_version, what);
    const auto n = r.remaining();
    const auto* p = r.get_bytes(n);
    return py::make_tuple(r.version(), py::bytes(reinterpret_cast<const char*>(p), n));
  }, py::arg("data"), py::arg("magic"), py::arg("min_version"), py::arg("max_version"), py::arg("what") = "object",
        "Validate an envelope and return (version, payload); raises CorruptDataError.");
  m.def("_crc32c", [](const py::bytes& data) {
    const std::string d = data;
    return neural_trader::crc32c(d.data(), d.size());
  }, py::arg("data"), "CRC-32C of bytes.");
}
