/**
 * play: agentless, typed automation. The public API: declare inventories, roles and playbooks; the ops;
 * `sh` for remote commands; `secret()` for values never shown.
 */
export { defineInventory, type Inventory, type InventorySpec, type HostSpec } from './model/inventory.ts';
export {
  defineRole,
  type Role,
  type RoleSpec,
  type RoleContext,
  type PlatformRoleSpec,
  type PlatformRoleContext,
} from './model/role.ts';
export {
  DEBIAN_12,
  DEBIAN_13,
  platformName,
  samePlatform,
  parsePlatform,
  parseOsRelease,
  type Platform,
} from './model/platform.ts';
export { definePlaybook, type Playbook, type PlaybookSpec, type Play, type RoleUse } from './model/playbook.ts';
export { use, type RoleParams, type RoleUses } from './model/role-use.ts';
export type { HealthCheck, HealthHost, HealthRow } from './model/health.ts';
export { SecretType } from './model/schema.ts';
export { Type, type Static } from '@sinclair/typebox';

export { file, type FileParams } from './ops/file.ts';
export { template, type TemplateParams } from './ops/template.ts';
export { copy, type CopyParams } from './ops/copy.ts';
export { directory, type DirectoryParams } from './ops/directory.ts';
export { link, type LinkParams } from './ops/link.ts';
export { line, type LineParams } from './ops/line.ts';
export { packages, type PackagesParams } from './ops/package.ts';
export { service, type ServiceParams } from './ops/service.ts';
export { user, type UserParams } from './ops/user.ts';
export { group, type GroupParams } from './ops/group.ts';
export { command, type CommandParams } from './ops/command.ts';
export { flushHandlers } from './ops/flush-handlers.ts';
export { reboot, type RebootParams } from './ops/reboot.ts';
export { configSet, type ConfigSetParams, type ConfigSetFile } from './ops/config-set.ts';
export { REMOTE_EXIT } from './remote/protocol.ts';
export {
  task,
  opOnFact,
  type Task,
  type TaskOptions,
  type Op,
  type Plan,
  type Step,
  type ExecStep,
  type WriteStep,
  type RebootStep,
  type FileDiff,
  type PlanContext,
  type PrepareContext,
  type FactReader,
} from './ops/op.ts';

// What a custom op needs besides `task`: facts to read (probes) and planners that turn them into steps.
export type { Probe, ProbeIdentity, ProbeOutput, ProbeFamily } from './facts/probe.ts';
export { pathProbe, contentProbe, type PathState } from './facts/file.ts';
export { commandSucceedsProbe } from './facts/command-status.ts';
export { osReleaseProbe } from './facts/os-release.ts';
export { planFile, planAbsent, planAttributes, type WantedFile, type FileAttributes } from './ops/managed-file.ts';

export { sh, raw, quote, joinCommands, asArgument, ShellCommand } from './connection/sh.ts';
export { secret, Secret } from './secret.ts';
export { MaskTable } from './mask-table.ts';
export { defineInitTemplate, type InitTemplate, type InitStreams } from './init-template.ts';
export {
  compileRun,
  type CompiledRun,
  type CompiledPlay,
  type HostWork,
  type HostPlatformWork,
  type Selection,
} from './engine/compile.ts';
export { validateAgainst, type SchemaIssue } from './model/schema.ts';
export { playPackage, type PlayPackage } from './package-info.ts';
export { PlayError, ValidationError, TemplateError, ConnectError, CommandError } from './errors.ts';
