// PCRE2 needs the code unit width chosen before its header: 8-bit, for packet bytes.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
