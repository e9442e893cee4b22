import type { Command } from 'commander';
import { formatProblem } from '../core/mapping/load';
import { EXIT, type CliIo, type ExitCode } from './io';
import { loadMappingFile } from './read-mapping';

/** `portal-bridge mappings validate <mapping.yaml>...`: exit 0, or 2 with every problem listed. */
export function validateMappings(files: readonly string[], opts: { json?: boolean }, io: CliIo): ExitCode {
  const results = files.map((file) => ({ file, result: loadMappingFile(file) }));
  if (opts.json === true) {
    io.out(JSON.stringify({ files: results.map(({ file, result }) => ({ file, ok: result.ok, problems: result.ok ? [] : result.problems })) }));
  } else {
    for (const { file, result } of results) {
      if (result.ok) io.out(`${file}: ok (${result.mapping.format} mapping "${result.mapping.name}")`);
      else {
        io.err(`${file}: ${result.problems.length} problem(s)`);
        for (const p of result.problems) io.err(`  ${formatProblem(p)}`);
      }
    }
  }
  return results.every((r) => r.result.ok) ? EXIT.ok : EXIT.usage;
}

export function registerValidate(mappings: Command, io: CliIo, done: (code: ExitCode) => void): void {
  mappings
    .command('validate')
    .description('check mapping files: YAML, schema, HL7 paths / FHIRPath, code maps, policy — every problem at once')
    .argument('<mapping...>', 'mapping file(s), e.g. mappings/hl7v2-default.yaml')
    .option('--json', 'print {files:[{file, ok, problems:[{file,line,column,at,message}]}]}')
    .addHelpText('after', '\nExamples:\n  $ portal-bridge mappings validate mappings/hl7v2-default.yaml\n  $ portal-bridge mappings validate --json mappings/*.yaml\n\nExit status: 0 all valid, 2 any problem (each printed as file:line:column: where: what).')
    .action((files: string[], opts: { json?: boolean }) => done(validateMappings(files, opts, io)));
}
