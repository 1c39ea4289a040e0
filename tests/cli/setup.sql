-- Tables for the amysql-batch comparison tests (tests/cli/compare.sh).
-- Run sequentially by the mariadb client before the statements under test,
-- which then only read them (or write to amy_batch_scratch, which nothing
-- reads back).
DROP TABLE IF EXISTS amy_batch_types;
CREATE TABLE amy_batch_types (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT,
  bi BIGINT, bu BIGINT UNSIGNED,
  de DECIMAL(30,10), f FLOAT, d DOUBLE,
  bt BIT(10), bo BOOLEAN,
  dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(2) NULL DEFAULT NULL, y YEAR,
  c CHAR(10), vc VARCHAR(200), bn BINARY(4), vb VARBINARY(64),
  tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
  e ENUM('a', 'b c', 'é'), st SET('x', 'y', 'z'),
  j JSON, g GEOMETRY, pt POINT, ip INET6, uu UUID
) CHARACTER SET utf8mb4;

INSERT INTO amy_batch_types VALUES
(1, -128, 255, -32768, -8388608, -2147483648, -9223372036854775808,
 18446744073709551615, -12345678901234567890.0123456789, 3.5, -2.2250738585072014e-308,
 b'1010101010', TRUE, '2024-02-29', '-838:59:59.999', '9999-12-31 23:59:59.999999',
 '2038-01-19 03:14:07.99', 2155, 'abc', 'plain', 'ab', x'00FF10',
 'tiny', 'text', 'medium', 'long', x'00', x'DEADBEEF', x'', x'0A0D09',
 'a', 'x,z', '{"k": [1, "two", null]}', ST_GeomFromText('POINT(1 2)'),
 ST_GeomFromText('POINT(-1.5 2.25)'), '::1', '123e4567-e89b-12d3-a456-426655440000'),
(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'0', FALSE, '1000-01-01', '00:00:00',
 '1000-01-01 00:00:00', '1970-01-01 00:00:01', 1901, '', '', '', '', '', '', '',
 '', '', '', '', '', NULL, '', '""', NULL, NULL, '::', '00000000-0000-0000-0000-000000000000'),
(4, 127, 1, 1, 1, 1, 1, 1, 0.5, 1e38, 1e308, b'1111111111', TRUE, '2000-01-01',
 '12:34:56.789', '2000-01-01 12:00:00.5', NULL, 2000,
 'tab\there', 'new\nline', 'a\\b', 'nul\0byte',
 'back\\slash', 'cr\rlf\r\n', 'all\t\n\\\0four', CONCAT('x', CHAR(9), 'y'),
 'a\tb', 'c\nd', 'e\\f', 'g\0h',
 'b c', 'x,y,z', '"tab\\there"', NULL, NULL, 'fe80::1:2', NULL),
(5, 1, 2, 3, 4, 5, 6, 7, 8.8, 9.9, 10.1, b'1', NULL, NULL, NULL, NULL, NULL, NULL,
 'héllo', 'ünïcödé ☃ 😀 日本語 עברית', 'ñ', 'ü',
 '😀', 'Ελληνικά', 'Кириллица', '中文',
 'é', 'ß', '€', '𝄞',
 'é', '', '{"emoji": "😀"}', NULL, NULL, NULL, NULL);

DROP TABLE IF EXISTS amy_batch_scratch;
CREATE TABLE amy_batch_scratch (id INT AUTO_INCREMENT PRIMARY KEY, k INT UNIQUE, v VARCHAR(20));
INSERT INTO amy_batch_scratch (k, v) VALUES (1, 'one'), (2, 'two');
