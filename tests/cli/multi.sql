-- Multi-line statements, for amysql-batch --delimiter ';' (tests/cli/compare.sh).
SELECT 1 AS one,
       'two' AS two;
SELECT 'a;b' AS "semi;colon", "c;d", `id` FROM amy_batch_types WHERE id = 1; # a comment; with semicolons
SELECT 'line one
line two;
line three' AS `multi
line name`;
/* block; comment */ SELECT 3 /* inner; */ + 4 AS seven;
SELECT 'it''s', "dq\"uote;", 'back\\slash;\'' AS esc;
-- a comment line; with a semicolon
SELECT
  id,
  vc,
  tx
FROM amy_batch_types
WHERE id IN (1, 3, 4, 5)
ORDER BY id;
;
SELECT 5--1 AS minus_minus;
/*!40101 SELECT 'executable comment' AS ec */;
DELIMITER $$
CREATE OR REPLACE PROCEDURE amy_batch_proc()
BEGIN
  SELECT 1;
  SELECT 2;
END$$
CALL amy_batch_proc()$$
SELECT 'under $$' AS d, 'a;b' AS e$$
DELIMITER ;
SELECT 'back to ;' AS d;
SELECT 'tab	and
newline' AS raw_in_literal;
SELECT 'no delimiter at the end' AS last
