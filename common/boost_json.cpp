// Boost.JSON's header-only build, compiled once here: the GPU hosts have Boost's headers but not
// its compiled libraries, and this keeps one build recipe for both.
#include <boost/json/src.hpp>
