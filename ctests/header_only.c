/* build_header_c99_pedantic: tgvoip.h is clean C99. */
#include "tgvoip.h"
typedef int tgvoip_header_only_unused;
