// The C API test compiled as C++.
#include "api_test.c"
