import { Migration } from '@mikro-orm/migrations';

/**
 * Run and task state `emitted` (`--backend slurm --emit-only` wrote the job scripts, nothing was
 * submitted) and `run.resubmission_of_uuid`, the run a `--resubmit-failed` run completes (outflow, sqlite).
 *
 * SQLite cannot alter a CHECK constraint, so `run` and `task` are rebuilt, and `edge` with them. The
 * migrator runs in a transaction, where `pragma foreign_keys = off` does nothing, and dropping a table
 * while foreign keys are on first deletes its rows, cascading to the rows that reference them. So the new
 * tables (`<name>__temp_alter`) reference each other, the old ones are dropped children first (nothing
 * references them by then), and the new ones are renamed: with legacy_alter_table off, renaming a table
 * rewrites every foreign key to it. Row ids and the autoincrement counters are kept. (outflow now runs
 * SQLite migrations with foreign keys off, runtime/db/foreign-keys.ts; this one works either way.)
 */
export class Migration20261201213728_emitted_and_resubmission_of extends Migration {

  override async up(): Promise<void> {
    for (const sql of rebuild(['running', 'success', 'failed', 'cancelled', 'emitted'], ['pending', 'running', 'success', 'failed', 'skipped', 'emitted'], true)) this.addSql(sql);
  }

  override async down(): Promise<void> {
    // What the previous version recorded for an --emit-only run.
    this.addSql(`update \`run\` set \`state\` = 'cancelled' where \`state\` = 'emitted';`);
    this.addSql(`update \`task\` set \`state\` = 'failed', \`exception_message\` = coalesce(\`exception_message\`, 'run cancelled') where \`state\` = 'emitted';`);
    for (const sql of rebuild(['running', 'success', 'failed', 'cancelled'], ['pending', 'running', 'success', 'failed', 'skipped'], false)) this.addSql(sql);
  }

}

const TEMP = '__temp_alter';
const RUN_COLUMNS = ['uuid', 'command', 'args', 'backend', 'host', 'state', 'start_time', 'end_time', 'configuration_id'];
const TASK_COLUMNS = ['id', 'run_uuid', 'kind', 'plugin', 'name', 'ref', 'state', 'start_time', 'end_time', 'exception_message', 'exception_stack', 'input_targets', 'output_targets', 'parent_id', 'element_index'];
const EDGE_COLUMNS = ['id', 'run_uuid', 'from_task_id', 'to_task_id'];

const q = (name: string) => `\`${name}\``;
const list = (names: string[]) => names.map(q).join(', ');
const check = (states: string[]) => states.map((s) => `'${s}'`).join(', ');

/** The statements that rebuild run, task and edge with these states, with or without `resubmission_of_uuid`. */
function rebuild(runStates: string[], taskStates: string[], link: boolean): string[] {
  const run = `run${TEMP}`;
  const task = `task${TEMP}`;
  const edge = `edge${TEMP}`;
  const runColumns = link ? [...RUN_COLUMNS, 'resubmission_of_uuid'] : RUN_COLUMNS;
  const linkColumn = link ? `, \`resubmission_of_uuid\` text null` : '';
  const linkConstraint = link ? `, constraint \`run_resubmission_of_uuid_foreign\` foreign key(\`resubmission_of_uuid\`) references ${q(run)}(\`uuid\`) on delete set null on update cascade` : '';
  return [
    `pragma legacy_alter_table = off;`,
    // Rows are copied in id order; a parent row is checked at commit whatever the order.
    `pragma defer_foreign_keys = on;`,
    `create table ${q(run)} (\`uuid\` text not null, \`command\` text not null, \`args\` json not null, \`backend\` text not null, \`host\` text not null, \`state\` text check (\`state\` in (${check(runStates)})) not null, \`start_time\` datetime not null, \`end_time\` datetime null, \`configuration_id\` integer null${linkColumn}, constraint \`run_configuration_id_foreign\` foreign key(\`configuration_id\`) references \`configuration\`(\`id\`) on delete set null on update cascade${linkConstraint}, primary key (\`uuid\`));`,
    `insert into ${q(run)} (${list(runColumns)}) select ${list(RUN_COLUMNS)}${link ? ', null' : ''} from \`run\`;`,
    `create table ${q(task)} (\`id\` integer not null primary key autoincrement, \`run_uuid\` text not null, \`kind\` text not null, \`plugin\` text not null, \`name\` text not null, \`ref\` text null, \`state\` text check (\`state\` in (${check(taskStates)})) not null, \`start_time\` datetime null, \`end_time\` datetime null, \`exception_message\` text null, \`exception_stack\` text null, \`input_targets\` json not null, \`output_targets\` json not null, \`parent_id\` integer null, \`element_index\` integer null, constraint \`task_run_uuid_foreign\` foreign key(\`run_uuid\`) references ${q(run)}(\`uuid\`) on delete cascade on update cascade, constraint \`task_parent_id_foreign\` foreign key(\`parent_id\`) references ${q(task)}(\`id\`) on delete cascade on update cascade);`,
    `insert into ${q(task)} (${list(TASK_COLUMNS)}) select ${list(TASK_COLUMNS)} from \`task\` order by \`id\`;`,
    `create table ${q(edge)} (\`id\` integer not null primary key autoincrement, \`run_uuid\` text not null, \`from_task_id\` integer not null, \`to_task_id\` integer not null, constraint \`edge_run_uuid_foreign\` foreign key(\`run_uuid\`) references ${q(run)}(\`uuid\`) on delete cascade on update cascade, constraint \`edge_from_task_id_foreign\` foreign key(\`from_task_id\`) references ${q(task)}(\`id\`) on delete cascade on update cascade, constraint \`edge_to_task_id_foreign\` foreign key(\`to_task_id\`) references ${q(task)}(\`id\`) on delete cascade on update cascade);`,
    `insert into ${q(edge)} (${list(EDGE_COLUMNS)}) select ${list(EDGE_COLUMNS)} from \`edge\` order by \`id\`;`,
    // The counters go on from where they were (ids of deleted rows are not handed out again).
    ...[task, edge].flatMap((t) => [
      `delete from \`sqlite_sequence\` where \`name\` = '${t}';`,
      `insert into \`sqlite_sequence\` (\`name\`, \`seq\`) select '${t}', \`seq\` from \`sqlite_sequence\` where \`name\` = '${t.slice(0, -TEMP.length)}';`,
    ]),
    `drop table \`edge\`;`,
    `drop table \`task\`;`,
    `drop table \`run\`;`,
    `alter table ${q(run)} rename to \`run\`;`,
    `alter table ${q(task)} rename to \`task\`;`,
    `alter table ${q(edge)} rename to \`edge\`;`,
    `create index \`run_configuration_id_index\` on \`run\` (\`configuration_id\`);`,
    ...(link ? [`create index \`run_resubmission_of_uuid_index\` on \`run\` (\`resubmission_of_uuid\`);`] : []),
    `create index \`run_start_time_index\` on \`run\` (\`start_time\`);`,
    `create index \`task_run_uuid_index\` on \`task\` (\`run_uuid\`);`,
    `create index \`task_parent_id_index\` on \`task\` (\`parent_id\`);`,
    `create index \`edge_run_uuid_index\` on \`edge\` (\`run_uuid\`);`,
    `create index \`edge_from_task_id_index\` on \`edge\` (\`from_task_id\`);`,
    `create index \`edge_to_task_id_index\` on \`edge\` (\`to_task_id\`);`,
  ];
}
