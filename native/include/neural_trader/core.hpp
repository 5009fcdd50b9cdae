/// @file core.hpp
/// @brief Everything of the header-only neural-trader core.
#pragma once

#include "version.hpp"
#include "book/order_book.hpp"
#include "common/aligned_buffer.hpp"
#include "common/backoff.hpp"
#include "common/checked.hpp"
#include "common/config.hpp"
#include "common/cpu.hpp"
#include "common/crc32c.hpp"
#include "common/errors.hpp"
#include "common/hash.hpp"
#include "common/serialize.hpp"
#include "common/threads.hpp"
#include "indicators/stream.hpp"
#include "hnsw/distance.hpp"
#include "hnsw/filter.hpp"
#include "hnsw/index.hpp"
#include "ring/mpmc.hpp"
#include "ring/shared.hpp"
#include "ring/spsc.hpp"
#include "sketch/sketch.hpp"
