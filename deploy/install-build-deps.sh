#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Estafeta needs to build (and, with --tests, to run its tests),
# skipping those already installed. Swift itself is expected on PATH.
#   build:  libsqlite3-dev (GRDB on the system SQLite), libcrypt-dev (libxcrypt's crypt(3)),
#           libunbound-dev (the relay's DNS resolver)
#   tests:  python3 (the standard-library clients smtplib, poplib, imaplib drive the servers),
#           python3-pip (to install schemathesis, which fuzzes the admin API), curl, swaks (SMTP clients
#           nobody here wrote), dnsmasq-base (a DNS server on loopback for the relay tests), nsd and
#           ldnsutils (a DNSSEC-signed zone for the DANE test), openssl
#           (certificates for test peers), fetchmail (a POP3 client nobody here wrote), isync (mbsync)
#           and offlineimap3 (IMAP clients that copy whole accounts), dovecot-imapd (the server the import
#           tests move accounts from), postgresql (the tests start private clusters
#           of it, as its unprivileged postgres user), chromium and chromium-driver (the web console
#           is tested in a real browser), and from PyPI aiosmtpd (a remote MX with scripted replies),
#           imapclient (an IMAP client library nobody here wrote), dkimpy with pynacl and dnspython (an
#           independent DKIM verifier and signer) and selenium (drives the browser)
set -euo pipefail

packages=(libsqlite3-dev libcrypt-dev libunbound-dev)
if [[ "${1:-}" == "--tests" ]]; then
    command -v python3 >/dev/null 2>&1 || packages+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
    command -v curl >/dev/null 2>&1 || packages+=(curl)
    command -v swaks >/dev/null 2>&1 || packages+=(swaks)
    command -v openssl >/dev/null 2>&1 || packages+=(openssl)
    command -v fetchmail >/dev/null 2>&1 || packages+=(fetchmail)
    command -v mbsync >/dev/null 2>&1 || packages+=(isync)
    command -v offlineimap >/dev/null 2>&1 || packages+=(offlineimap3)
    packages+=(dnsmasq-base postgresql nsd ldnsutils dovecot-imapd chromium chromium-driver)
fi

missing=()
for package in "${packages[@]}"; do
    case "$package" in
        python3|python3-pip|curl|swaks|openssl|fetchmail|isync|offlineimap3) missing+=("$package") ;;  # added above only when the command is absent
        *) dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package") ;;
    esac
done
install_python_packages() {
    [[ "${1:-}" == "--tests" ]] || return 0
    python3 -c "import aiosmtpd, imapclient, dkim, nacl, dns.resolver, selenium" 2>/dev/null && return 0
    # dkimpy (with PyNaCl for Ed25519, dnspython for its look-ups) verifies and makes DKIM signatures
    # independently of ours. Debian's own python3 refuses system-wide pip installs (PEP 668); CI
    # machines are throwaway.
    local python_packages=(aiosmtpd imapclient dkimpy pynacl dnspython selenium)
    python3 -m pip install -q "${python_packages[@]}" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "${python_packages[@]}"
}
if [[ ${#missing[@]} -eq 0 ]]; then
    install_python_packages "${1:-}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "Estafeta needs these packages (or their equivalents): ${missing[*]}" >&2
    exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "run as root, or install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "installing: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
install_python_packages "${1:-}"
