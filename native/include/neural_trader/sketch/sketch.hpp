/// @file sketch.hpp
/// @brief The sublinear sketches: HyperLogLog, count-min (+ heavy hitters), blocked Bloom
/// filter and reservoir samplers, all hashing through common/hash.hpp.
#pragma once

#include "../common/hash.hpp"
#include "bloom.hpp"
#include "count_min.hpp"
#include "hll.hpp"
#include "reservoir.hpp"
