"""SQL as findings show it: one shape per statement whatever its values, no value shown."""

from perfkata.bench.sqltext import example, is_write, normalised, verb, written_table


def test_values_written_inline_and_placeholders_of_every_driver_become_one_shape():
    shapes = {
        normalised("SELECT name FROM users WHERE id = 7 AND nick = 'o''brien'"),
        normalised("SELECT name FROM users WHERE id = ?  AND nick = ?"),
        normalised("SELECT name FROM users WHERE id = %(id_1)s AND nick = %s"),
        normalised("SELECT name FROM users\n  WHERE id = $1 AND nick = :nick;"),
    }
    assert shapes == {"SELECT name FROM users WHERE id = ? AND nick = ?"}


def test_in_lists_of_any_length_and_names_with_digits_keep_their_shape():
    assert (
        normalised("DELETE FROM t1 WHERE t1.id IN (1, 2, 3)") == "DELETE FROM t1 WHERE t1.id IN (?)"
    )
    assert normalised("SELECT * FROM t WHERE id IN (__[POSTCOMPILE_id_1])") == (
        "SELECT * FROM t WHERE id IN (?)"
    )
    assert example("SELECT " + ", ".join(f"c{i}" for i in range(80)) + " FROM t", 40).endswith("…")


def test_the_verb_and_table_of_a_write():
    assert verb("  delete from sessions where id = 1") == "DELETE"
    assert verb("WITH doomed AS (SELECT id FROM s) DELETE FROM s WHERE id IN doomed") == "DELETE"
    assert is_write("INSERT OR IGNORE INTO job_runs (job) VALUES (?)")
    assert written_table("INSERT OR IGNORE INTO job_runs (job) VALUES (?)") == "job_runs"
    assert written_table('UPDATE "public".reports SET status = ?') == "reports"
    assert written_table("SELECT 1") is None
