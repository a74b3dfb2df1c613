/**
 * `wormhole completion bash|zsh|fish`: shell completion scripts generated
 * from the program's own commands and flags, so they never fall behind.
 *
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import { OUTPUT_FORMATS } from "./views.ts";

/** The shells `completion` writes scripts for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

interface Node {
  /** Words from the program down to this command, e.g. `["requests", "list"]`. */
  path: string[];
  /** Names and aliases of its sub-commands. */
  commands: string[];
  /** Its flags, long and short. */
  flags: string[];
  /** Description of each sub-command name, for fish. */
  descriptions: Map<string, string>;
}

function tree(program: Command): Node[] {
  const nodes: Node[] = [];
  const walk = (command: Command, path: string[]) => {
    const descriptions = new Map<string, string>();
    for (const sub of command.commands) {
      for (const name of [sub.name(), ...sub.aliases()]) descriptions.set(name, sub.description());
    }
    // The shells are this command's argument: completed like sub-commands.
    if (path.join(" ") === "completion") {
      for (const shell of SHELLS) descriptions.set(shell, `completion script for ${shell}`);
    }
    const flags = command.options.flatMap((o) => [o.long, o.short].filter((f) => f) as string[]);
    nodes.push({
      path,
      commands: [...descriptions.keys()],
      flags: [...flags, "--help"],
      descriptions,
    });
    for (const sub of command.commands) {
      for (const name of [sub.name(), ...sub.aliases()]) walk(sub, [...path, name]);
    }
  };
  walk(program, []);
  return nodes;
}

/** Completion values of flags that take one of a few words. */
const FLAG_VALUES = `-o|--output) words="${OUTPUT_FORMATS.join(" ")}" ;;`;

/** The bash script (zsh loads it through bashcompinit). */
function bash(program: Command): string {
  const nodes = tree(program);
  const known = nodes.filter((n) => n.path.length > 0).map((n) => `" ${n.path.join(" ")}"`);
  const cases = nodes.map((n) =>
    `    "${n.path.map((w) => ` ${w}`).join("")}") words="${
      [...n.commands, ...n.flags].join(" ")
    }" ;;`
  );
  return [
    '# wormhole completion for bash: eval "$(wormhole completion bash)"',
    "_wormhole() {",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" path="" words="" i',
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    case "$path ${COMP_WORDS[i]}" in',
    `      ${known.join("|")}) path="$path \${COMP_WORDS[i]}" ;;`,
    "    esac",
    "  done",
    '  case "$prev" in',
    `    ${FLAG_VALUES}`,
    '    *) case "$path" in',
    ...cases.map((c) => "  " + c),
    "    esac ;;",
    "  esac",
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    "}",
    "complete -F _wormhole wormhole",
    "",
  ].join("\n");
}

function zsh(program: Command): string {
  return [
    "#compdef wormhole",
    '# wormhole completion for zsh: eval "$(wormhole completion zsh)"',
    "autoload -U +X bashcompinit && bashcompinit",
    bash(program).split("\n").slice(1).join("\n"),
  ].join("\n");
}

function fish(program: Command): string {
  const quote = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  const lines = ["# wormhole completion for fish: wormhole completion fish | source"];
  for (const node of tree(program)) {
    const seen = node.path.map((w) => `__fish_seen_subcommand_from ${w}`);
    const below = node.commands.length > 0
      ? [`not __fish_seen_subcommand_from ${node.commands.join(" ")}`]
      : [];
    const condition = node.path.length === 0
      ? "__fish_use_subcommand"
      : [...seen, ...below].join("; and ");
    for (const [name, description] of node.descriptions) {
      lines.push(
        `complete -c wormhole -f -n ${quote(condition)} -a ${name} -d ${quote(description)}`,
      );
    }
    if (node.path.length === 0) continue;
    for (const flag of node.flags) {
      const option = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      const values = flag === "--output" || flag === "-o"
        ? ` -r -a ${quote(OUTPUT_FORMATS.join(" "))}`
        : "";
      lines.push(`complete -c wormhole -f -n ${quote(seen.join("; and "))} ${option}${values}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** Builds `completion <shell>`. */
export function completionCommand(): Command {
  return new Command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .argument("<shell>", SHELLS.join(", "), (value: string) => {
      if (!(SHELLS as readonly string[]).includes(value)) {
        throw new InvalidArgumentError(`choose one of ${SHELLS.join(", ")}`);
      }
      return value;
    })
    .action((shell: typeof SHELLS[number], _flags: unknown, command: Command) => {
      let root = command;
      while (root.parent) root = root.parent;
      const script = { bash, zsh, fish }[shell](root);
      const bytes = new TextEncoder().encode(script);
      for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
    });
}
