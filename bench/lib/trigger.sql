-- The alternative pgrev is weighed against: a PL/pgSQL row trigger writing the revisions
-- pgrev writes (same columns and values: a full row for INSERT and UPDATE, the key and
-- rev_isdelete for DELETE, as pgrev's default delete: key_only) into a table made like the
-- one pgrev created for the audited twin. run.sh replaces @T@ (the table's family: accounts,
-- events, orders), @COLS@ (its columns in order) and @KEY@ (its primary key column).
CREATE TABLE @T@_trig_rev (LIKE @T@_audited_rev INCLUDING ALL);
CREATE FUNCTION @T@_trig_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO @T@_trig_rev (rev_created, rev_isdelete, @KEY@)
    VALUES (extract(epoch FROM clock_timestamp()), true, OLD.@KEY@);
  ELSE
    INSERT INTO @T@_trig_rev (rev_created, rev_isdelete, @COLS@)
    SELECT extract(epoch FROM clock_timestamp()), false, (NEW).*;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON @T@_trig
  FOR EACH ROW EXECUTE FUNCTION @T@_trig_audit();
