#!/usr/bin/env bash
# The shell side of the SolSentry GitHub Action (action.yml). Every step of the action calls this
# script with a subcommand, its inputs in INPUT_* variables, so that a test can run it off GitHub
# (tests/auditor/test_ci_action.py). The names avoid the SOLSENTRY_ prefix on purpose: the CLI warns
# about every SOLSENTRY_* variable it does not read.
#
#   action.sh install   pip-install SolSentry from ACTION_PATH unless `solsentry` is on PATH
#   action.sh audit     run the audit (PR mode in pull requests), write SARIF and Markdown
#   action.sh comment   post or update the pull request's SolSentry comment (dry run off GitHub)
#   action.sh finish    exit with the audit's exit code (after the SARIF upload and the comment)
set -euo pipefail

MARKER='<!-- solsentry-pr-comment -->'   # finds our own comment again, whoever else comments
MAX_COMMENT=65000                      # GitHub refuses comment bodies over 65536 characters

die() { echo "::error::$*" >&2; exit 2; }
output() { [ -n "${GITHUB_OUTPUT:-}" ] && echo "$1=$2" >> "$GITHUB_OUTPUT"; return 0; }
git_safe() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false "$@"; }   # no hooks of the repository run

cmd_install() {
  if command -v solsentry > /dev/null; then
    echo "solsentry is on PATH ($(command -v solsentry)): not installing"
    return
  fi
  [ -n "${ACTION_PATH:-}" ] || die "ACTION_PATH is not set (the action's own checkout)"
  python3 -m pip install --disable-pip-version-check --quiet "$ACTION_PATH"
}

# The ref to compare with, or nothing for a full audit: the input base-ref, else the pull request's
# base branch. A branch is fetched from origin first (actions/checkout fetches only the PR's commit).
base_ref() {
  local base="${INPUT_BASE_REF:-}" repo="$1" branch depth=()
  if [ -z "$base" ]; then
    case "${GITHUB_EVENT_NAME:-}" in
      pull_request|pull_request_target) base="${GITHUB_BASE_REF:-}" ;;
    esac
  fi
  [ -n "$base" ] || return 0
  case "$base" in -*) die "base-ref '$base' is not a git ref" ;; esac
  branch="${base#origin/}"
  # Only the base's tree is needed: in a shallow clone, its tip is enough.
  [ "$(git_safe -C "$repo" rev-parse --is-shallow-repository)" = true ] && depth=(--depth=1)
  if git_safe -C "$repo" fetch --no-tags --quiet "${depth[@]}" origin \
       "+refs/heads/$branch:refs/remotes/origin/$branch" >&2; then
    echo "origin/$branch"
  elif git_safe -C "$repo" rev-parse --verify --quiet "$base^{commit}" > /dev/null; then
    echo "$base"                         # a commit or a local ref
  else
    die "cannot fetch the base branch '$branch' from origin, and '$base' is no local commit"
  fi
}

cmd_audit() {
  local path="${INPUT_PATH:-.}" sarif="${INPUT_SARIF_FILE:-solsentry.sarif}" md="${INPUT_MARKDOWN_FILE:-solsentry.md}"
  local repo args=() extra=() ref rc
  [ -e "$path" ] || die "path '$path' does not exist"
  repo="$path"; [ -d "$repo" ] || repo="$(dirname "$path")"
  args=(--fail-on "${INPUT_FAIL_ON:-high}" --review "${INPUT_REVIEW:-embedded}")
  [ -n "${INPUT_TOOLS:-}" ] && args+=(--tools "$INPUT_TOOLS")
  ref="$(base_ref "$repo")"
  if [ -n "$ref" ]; then
    args+=(--diff "$ref")
    echo "PR mode: only findings that are not at $ref"
  else
    echo "full audit of $path"
  fi
  [ -n "${INPUT_ARGS:-}" ] && read -r -a extra <<< "$INPUT_ARGS"
  set +e
  solsentry audit "$path" "${args[@]}" "${extra[@]}" --format sarif --out "$sarif"
  rc=$?
  set -e
  # The same audit again for the Markdown: served by the results cache (and the PR base store).
  if [ -f "$sarif" ]; then
    solsentry audit "$path" "${args[@]}" "${extra[@]}" --fail-on none --quiet --format md --out "$md" || true
  fi
  [ -f "$sarif" ] || die "solsentry audit wrote no report (exit $rc)"
  output exit-code "$rc"
  output sarif-file "$sarif"
  output markdown-file "$md"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$md" ]; then cat "$md" >> "$GITHUB_STEP_SUMMARY"; fi
  echo "solsentry audit exit code: $rc"
}

cmd_comment() {
  local md="${INPUT_MARKDOWN_FILE:-solsentry.md}" body pr="${PR_NUMBER:-}" repo="${GITHUB_REPOSITORY:-}" id
  [ -f "$md" ] || { echo "no Markdown report ($md): no comment"; return 0; }
  body="${COMMENT_BODY_FILE:-$(mktemp)}"
  { echo "$MARKER"; head -c "$MAX_COMMENT" "$md"; } > "$body"
  if [ "${GITHUB_ACTIONS:-}" != true ] || [ -n "${DRY_RUN:-}" ] || [ -z "$pr" ] || [ -z "$repo" ]; then
    echo "dry run: would comment on pull request ${pr:-?} with $body"
    return 0
  fi
  command -v gh > /dev/null || { echo "::warning::gh is not installed: no pull request comment"; return 0; }
  # A read-only token (a pull request from a fork) cannot comment: a warning, not a failed audit.
  id="$(gh api "repos/$repo/issues/$pr/comments" --paginate \
        --jq ".[] | select(.body | startswith(\"$MARKER\")) | .id" 2> /dev/null | tail -n 1)" || id=""
  if [ -n "$id" ]; then
    gh api -X PATCH "repos/$repo/issues/comments/$id" -F "body=@$body" > /dev/null \
      || echo "::warning::could not update the SolSentry comment"
  else
    gh api -X POST "repos/$repo/issues/$pr/comments" -F "body=@$body" > /dev/null \
      || echo "::warning::could not comment on the pull request (read-only token?)"
  fi
}

cmd_finish() {
  local rc="${AUDIT_EXIT_CODE:-}"
  [ -n "$rc" ] || die "the audit step left no exit code"
  case "$rc" in
    0) echo "SolSentry: nothing at or above fail-on" ;;
    1) echo "::error::SolSentry: findings at or above fail-on (see the report)" ;;
    *) echo "::error::SolSentry: the audit failed or is incomplete (exit $rc)" ;;
  esac
  exit "$rc"
}

case "${1:-}" in
  install|audit|comment|finish) "cmd_$1" ;;
  *) echo "usage: $0 install|audit|comment|finish" >&2; exit 2 ;;
esac
