/**
 * The scripts `pisched completion bash|zsh` prints. They hand the words typed
 * to `pisched __complete`, which knows the commands and flags (from the same
 * definitions that parse them) and asks the scheduler for names, so the
 * script never goes stale when pisched changes.
 */
export function bashScript(): string {
  return `# bash completion for pisched; load it with: source <(pisched completion bash)
_pisched() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  local candidates
  candidates=$(pisched __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
  # scale NAME=N: no space after "NAME=".
  if [[ \${#COMPREPLY[@]} -gt 0 && "\${COMPREPLY[0]}" == *= ]]; then compopt -o nospace 2>/dev/null; fi
}
complete -o default -F _pisched pisched
`;
}

export function zshScript(): string {
  return `#compdef pisched
# zsh completion for pisched; load it with: source <(pisched completion zsh)
# (or save it as _pisched in a directory of $fpath)
_pisched() {
  local -a candidates plain equals
  candidates=("\${(@f)$(pisched __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for c in "\${candidates[@]}"; do
    [[ -z "$c" ]] && continue
    if [[ "$c" == *= ]]; then equals+=("$c"); else plain+=("$c"); fi
  done
  (( \${#plain} )) && compadd -- "\${plain[@]}"
  # scale NAME=N: no space after "NAME=".
  (( \${#equals} )) && compadd -S '' -- "\${equals[@]}"
  return 0
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then _pisched "$@"; else compdef _pisched pisched; fi
`;
}
