// The tgcalls C API test compiled as C++.
#include "tgcalls_test.c"
