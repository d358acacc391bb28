// libunbound (NLnet Labs), Debian's libunbound-dev: the DNS resolver the relay uses for MX, A and
// AAAA look-ups (UDP with TCP fallback, a configurable forwarder, and DNSSEC validation for DANE later).
#include <unbound.h>
