-- The pipeline's own PostgreSQL role, made once by the master user after the first deploy:
--
--   pw=$(aws secretsmanager get-secret-value --secret-id "$PIPELINE_DB_SECRET_ARN" \
--          --query SecretString --output text | python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])')
--   psql "postgres://abforge@$DB_ENDPOINT/abforge?sslmode=verify-full&sslrootcert=global-bundle.pem" \
--        -v ON_ERROR_STOP=1 -v pw="$pw" -f deploy/aws/bootstrap.sql
--
-- (psql asks for the master password, from the stack's DatabaseSecretArn.) The role may log in
-- to database abforge and owns schema abforge, where the pipeline's migrations make its tables
-- (customers and its partitions, runs, ab_results, locks, schedule_ticks, run_log,
-- abforge_migrations); it cannot create databases or roles, is no superuser, and has no right
-- on schema public or on other databases. Running the file again changes nothing but the
-- password.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE abforge_pipeline LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'abforge_pipeline') \gexec
ALTER ROLE abforge_pipeline PASSWORD :'pw';
ALTER ROLE abforge_pipeline CONNECTION LIMIT 20;
REVOKE ALL ON DATABASE abforge FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE abforge TO abforge_pipeline;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS abforge AUTHORIZATION abforge_pipeline;
ALTER ROLE abforge_pipeline IN DATABASE abforge SET search_path = abforge;
