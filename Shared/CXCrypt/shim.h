// libxcrypt (Debian: libcrypt-dev) provides crypt_rn, crypt_ra and crypt_gensalt_rn.
#include <crypt.h>
