#!/usr/bin/env bash
# Karta's answer to git's credential helper (`karta git-credential get|store|erase`) in the shell,
# shared by the repository's `karta` launcher and the installed CLI's bin/karta (both source it:
# it only defines functions) and the npm package's bin/karta.js (which runs it, see the end).
#
# git's credential helper (`karta git-credential get|store|erase`, set up by `karta init`) runs on
# every push and fetch, twice per push: it is answered here, in the shell, without starting Java.
# The rules are GitCredentialCommand's and Settings' (the key from KARTA_API_KEY, else the config
# file's key but only for the server it was saved for; the server from KARTA_SERVER, else the
# config file, else the default; git's protocol and host must name that server, host:80 and
# host:443 being host). Whatever the shell cannot decide exactly as Java would (an escape in the
# config file, a URL beyond the plain http(s)://host[:port][/path], a byte that is not printable
# ASCII) goes to the Java helper with the request it was sent, so the answers stay the same.
credential_request=""

# Sets REPLY to $1 trimmed as by Java's String.trim() (ASCII controls and spaces at both ends).
# Here and below: no command substitutions, each of which would cost a fork.
trim() {
  REPLY="$1"
  REPLY="${REPLY#"${REPLY%%[![:cntrl:] ]*}"}"
  REPLY="${REPLY%"${REPLY##*[![:cntrl:] ]}"}"
}

# Settings.normalizeServer for plain URLs: sets `server`, or fails for anything unusual.
plain_server() {
  trim "$1"
  local url="$REPLY" IFS=. label labels
  while [ "${url%/}" != "$url" ]; do url="${url%/}"; done
  [[ "$url" =~ ^(http|https)://([A-Za-z0-9.-]+)(:[1-9][0-9]{0,4})?(/[A-Za-z0-9._~/-]*)?$ ]] || return 1
  local host="${BASH_REMATCH[2]}"
  labels=($host)
  if [[ "$host" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    for label in "${labels[@]}"; do
      [[ "$label" =~ ^(0|[1-9][0-9]{0,2})$ ]] && [ "$label" -le 255 ] || return 1
    done
  else
    # java.net.URI's hostname: labels of letters, digits and inner hyphens, the last starting with a letter.
    [ "${host%.}" = "$host" ] && [ "${#labels[@]}" -gt 0 ] || return 1
    for label in "${labels[@]}"; do
      [[ "$label" =~ ^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$ ]] || return 1
    done
    [[ "${labels[${#labels[@]}-1]}" =~ ^[A-Za-z] ]] || return 1
  fi
  server="$url"
}

# ConfigFile.read for files without escapes: sets saved_server and saved_key, or fails.
read_config() {
  local file="$1" line key raw value rest
  saved_server="" saved_key=""
  [ -e "$file" ] || return 0
  [ -f "$file" ] && [ -r "$file" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in *[![:print:]$'\t']*) return 1 ;; esac
    trim "$line"; line="$REPLY"
    case "$line" in '' | '#'*) continue ;; '['*) break ;; esac
    [[ "$line" =~ ^([A-Za-z0-9_-]+)[[:space:]]*=[[:space:]]*(.*)$ ]] || return 1
    key="${BASH_REMATCH[1]}" raw="${BASH_REMATCH[2]}"
    case "$raw" in
      "'"*) raw="${raw#\'}"; [[ "$raw" == *"'"* ]] || return 1; value="${raw%%\'*}"; rest="${raw#*\'}" ;;
      '"'*) raw="${raw#\"}"; [[ "$raw" == *'"'* ]] || return 1; value="${raw%%\"*}"; rest="${raw#*\"}"
            case "$value" in *'\'*) return 1 ;; esac ;;
      *) return 1 ;;
    esac
    trim "$rest"
    case "$REPLY" in '' | '#'*) ;; *) return 1 ;; esac
    case "$key" in server) saved_server="$value" ;; api_key) saved_key="$value" ;; esac
  done <"$file"
}

# Sets REPLY to GitCredentialCommand.withoutDefaultPort(protocol, host), lower-cased for equalsIgnoreCase.
without_default_port() {
  REPLY="${2,,}"
  case "${1,,}" in
    http) REPLY="${REPLY%:80}" ;;
    https) REPLY="${REPLY%:443}" ;;
  esac
}

# Answers `git-credential ACTION` with the request on stdin; returns 1 (request kept in
# credential_request) when Java has to answer instead.
git_credential() {
  local LC_ALL=C action="$1" line protocol="" host="" has_protocol=0 has_host=0
  while IFS= read -r line || [ -n "$line" ]; do
    [ -z "$line" ] && break
    credential_request+="$line"$'\n'
    case "$line" in
      protocol=*) protocol="${line#protocol=}"; has_protocol=1 ;;
      host=*) host="${line#host=}"; has_host=1 ;;
    esac
  done
  # Java reads \r as a line end too; one in the request is beyond the shell's line splitting.
  case "$credential_request" in *$'\r'*) return 1 ;; esac
  # git-credential(1): store and erase have nothing to do, the key lives in Karta's config file.
  [ "$action" = get ] || return 0

  local env_server env_key config_home server="" saved_server saved_key saved="" key=""
  trim "${KARTA_SERVER:-}"; env_server="$REPLY"
  trim "${KARTA_API_KEY:-}"; env_key="$REPLY"
  case "$env_server$env_key$protocol$host${XDG_CONFIG_HOME:-}${HOME:-}" in *[![:print:]]*) return 1 ;; esac
  trim "${XDG_CONFIG_HOME:-}"; config_home="$REPLY"
  if [ "${config_home#/}" = "$config_home" ]; then
    trim "${HOME:-}"; [ -n "$REPLY" ] || return 1
    config_home="$HOME/.config"
  fi
  read_config "$config_home/karta/config.toml" || return 1
  if [ -n "$saved_server" ]; then plain_server "$saved_server" || return 1; saved="$server"; fi
  if [ -n "$env_server" ]; then
    plain_server "$env_server" || return 1
  elif [ -n "$saved" ]; then
    server="$saved"
  else
    server="http://127.0.0.1:7070"
  fi
  trim "$saved_key"
  if [ -n "$env_key" ]; then
    key="$env_key"
  elif [ -n "$REPLY" ] && [ "${saved:-http://127.0.0.1:7070}" = "$server" ]; then
    key="$REPLY"
  fi

  [ "$has_protocol" = 1 ] && [ "$has_host" = 1 ] || return 0
  local scheme="${server%%://*}" server_host="${server#*://}" wanted
  server_host="${server_host%%/*}"
  [ "${protocol,,}" = "$scheme" ] || return 0
  without_default_port "$protocol" "$host"; wanted="$REPLY"
  without_default_port "$protocol" "$server_host"
  [ "$wanted" = "$REPLY" ] || return 0
  if [ -z "$key" ]; then
    echo "karta: not logged in to $server: run \`karta login\` (or set KARTA_API_KEY) so git can push" >&2
    return 0
  fi
  printf 'username=karta\npassword=%s\n' "$key"
}

# Run directly (`bash karta-credential.sh ACTION`, as the npm shim does): answers ACTION with the
# request on stdin and exits 0, or exits 10 having printed nothing when Java has to answer instead
# (the caller kept the request to give it to Java).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "$#" = 1 ] && [[ "$1" =~ ^(get|store|erase)$ ]] && git_credential "$1"; then exit 0; fi
  exit 10
fi
