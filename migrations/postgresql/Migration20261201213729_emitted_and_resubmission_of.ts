import { Migration } from '@mikro-orm/migrations';

/**
 * Run and task state `emitted` (`--backend slurm --emit-only` wrote the job scripts, nothing was
 * submitted) and `run.resubmission_of_uuid`, the run a `--resubmit-failed` run completes (outflow, postgresql).
 */
export class Migration20261201213729_emitted_and_resubmission_of extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "run" drop constraint "run_state_check";`);
    this.addSql(`alter table "run" add constraint "run_state_check" check ("state" in ('running', 'success', 'failed', 'cancelled', 'emitted'));`);
    this.addSql(`alter table "task" drop constraint "task_state_check";`);
    this.addSql(`alter table "task" add constraint "task_state_check" check ("state" in ('pending', 'running', 'success', 'failed', 'skipped', 'emitted'));`);
    this.addSql(`alter table "run" add column "resubmission_of_uuid" uuid null;`);
    this.addSql(`alter table "run" add constraint "run_resubmission_of_uuid_foreign" foreign key ("resubmission_of_uuid") references "run" ("uuid") on update cascade on delete set null;`);
    this.addSql(`create index "run_resubmission_of_uuid_index" on "run" ("resubmission_of_uuid");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "run" drop constraint "run_resubmission_of_uuid_foreign";`);
    this.addSql(`drop index "run_resubmission_of_uuid_index";`);
    this.addSql(`alter table "run" drop column "resubmission_of_uuid";`);
    // What the previous version recorded for an --emit-only run.
    this.addSql(`update "run" set "state" = 'cancelled' where "state" = 'emitted';`);
    this.addSql(`update "task" set "state" = 'failed', "exception_message" = coalesce("exception_message", 'run cancelled') where "state" = 'emitted';`);
    this.addSql(`alter table "run" drop constraint "run_state_check";`);
    this.addSql(`alter table "run" add constraint "run_state_check" check ("state" in ('running', 'success', 'failed', 'cancelled'));`);
    this.addSql(`alter table "task" drop constraint "task_state_check";`);
    this.addSql(`alter table "task" add constraint "task_state_check" check ("state" in ('pending', 'running', 'success', 'failed', 'skipped'));`);
  }

}
