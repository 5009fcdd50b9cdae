// neural-trader: version of the header-only core (the single source of the package version).
#pragma once

#define NEURAL_TRADER_VERSION_MAJOR 0
#define NEURAL_TRADER_VERSION_MINOR 1
#define NEURAL_TRADER_VERSION_PATCH 0
#define NEURAL_TRADER_VERSION "0.1.0"
