-- Test schema and users for amysql's integration tests.
--
-- Used by both docker/docker-compose.yml (mounted into /docker-entrypoint-initdb.d/)
-- and scripts/testdb.sh (applied as root over the unix socket). Safe to re-run:
-- every statement is IF NOT EXISTS / CREATE OR REPLACE, and the grants are
-- re-applied from scratch each time.

CREATE DATABASE IF NOT EXISTS amysql_test
  CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;

-- Main test user, for TCP ('%') and unix-socket ('localhost') connections.
CREATE OR REPLACE USER 'amy'@'%' IDENTIFIED BY 'amy_pw';
CREATE OR REPLACE USER 'amy'@'localhost' IDENTIFIED BY 'amy_pw';
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy'@'%';
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy'@'localhost';
-- PROCESS: see every session in SHOW PROCESSLIST / information_schema.PROCESSLIST.
-- CONNECTION ADMIN (MariaDB >= 10.5.2; SUPER's replacement for this): KILL any
-- session, not only those of the same user, and connect past max_connections.
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'amy'@'%';
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'amy'@'localhost';

-- User whose password needs percent-encoding in a DSN:
--   mysql://amy_special:p%40ss%3Aw%2Frd%25%3F%26@127.0.0.1:PORT/amysql_test
CREATE OR REPLACE USER 'amy_special'@'%' IDENTIFIED BY 'p@ss:w/rd%?&';
CREATE OR REPLACE USER 'amy_special'@'localhost' IDENTIFIED BY 'p@ss:w/rd%?&';
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy_special'@'%';
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy_special'@'localhost';

-- Users for the TLS tests. REQUIRE SSL: refused over a plaintext connection;
-- REQUIRE X509: also needs a client certificate the server's CA verifies
-- (scripts/testdb.sh makes one: client-cert.pem in its PKI dir). MariaDB
-- accepts both on a server without TLS, where they simply cannot log in
-- over TCP (the TLS-off instance's amy_ssl is there for exactly that test).
CREATE OR REPLACE USER 'amy_ssl'@'%' IDENTIFIED BY 'amy_ssl_pw' REQUIRE SSL;
CREATE OR REPLACE USER 'amy_ssl'@'localhost' IDENTIFIED BY 'amy_ssl_pw' REQUIRE SSL;
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy_ssl'@'%';
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy_ssl'@'localhost';
CREATE OR REPLACE USER 'amy_x509'@'%' IDENTIFIED BY 'amy_x509_pw' REQUIRE X509;
CREATE OR REPLACE USER 'amy_x509'@'localhost' IDENTIFIED BY 'amy_x509_pw' REQUIRE X509;
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy_x509'@'%';
GRANT ALL PRIVILEGES ON amysql_test.* TO 'amy_x509'@'localhost';
