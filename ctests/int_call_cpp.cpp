// The C integration test compiled as C++.
#include "int_call.c"
