#!/bin/sh
# The pipeline container's entrypoint: ABFORGE_DATABASE_URL from DB_HOST, DB_PORT, DB_NAME,
# DB_USER and DB_PASSWORD (the task definition takes the last two from Secrets Manager), unless
# ABFORGE_DATABASE_URL is set already; then `abforge "$@"`. The URL asks for TLS with the
# server's certificate verified against the RDS CA bundle the image carries (PGSSLROOTCERT).
set -eu
if [ -z "${ABFORGE_DATABASE_URL:-}" ] && [ -n "${DB_HOST:-}" ]; then
  : "${DB_USER:?DB_USER is not set}" "${DB_PASSWORD:?DB_PASSWORD is not set}"
  # The template generates letters and digits only; anything else would need URL escaping.
  case "$DB_USER$DB_PASSWORD" in
    *[!A-Za-z0-9_]*) echo "abforge-entrypoint: DB_USER and DB_PASSWORD must be letters, digits or _" >&2; exit 2 ;;
  esac
  ABFORGE_DATABASE_URL="postgres://$DB_USER:$DB_PASSWORD@$DB_HOST:${DB_PORT:-5432}/${DB_NAME:-abforge}?sslmode=verify-full&sslrootcert=${PGSSLROOTCERT:-/opt/rds-global-bundle.pem}"
  export ABFORGE_DATABASE_URL
fi
unset DB_PASSWORD
exec /usr/local/bin/abforge "$@"
