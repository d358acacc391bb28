#!/bin/sh
# The image's entrypoint: the first argument picks the service.
#   smtp | relay | pop3 | imap | admin   one executable (estafeta-smtp, …)
#   serve (the default)                  every service in one process
#   backup PATH, migrate, check-config, token …   the estafeta command's other subcommands
#   anything else                        run as given (a shell for debugging: `sh`)
set -e
service=${1:-serve}
[ $# -gt 0 ] && shift
case "$service" in
    smtp|relay|pop3|imap|admin) exec "estafeta-$service" "$@" ;;
    serve|backup|migrate|check-config|token) exec estafeta "$service" "$@" ;;
    *) exec "$service" "$@" ;;
esac
