#!/bin/sh
# Releases vX.Y.Z of the action from the commit checked out (.github/workflows/release.yml runs it
# after `npm ci` and `npm run build`): refuses unless dist/ is that build, package.json says X.Y.Z
# and CHANGELOG.md has its section; then tags vX.Y.Z, moves the major tag vX to the same commit
# (never backwards, past a higher vX.* release), pushes both, and prints the CHANGELOG section for
# the release notes. Messages go to stderr. The remote is RELEASE_REMOTE (default origin).
set -eu
fail() { echo "release: $*" >&2; exit 1; }
version=${1:-}
version=${version#v}
printf '%s\n' "$version" | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+' ||
  fail "'${1:-}' is not a version: give X.Y.Z, e.g. 1.4.2"
remote=${RELEASE_REMOTE:-origin}
tag=v$version
major=v${version%%.*}

[ -z "$(git status --porcelain -- dist/)" ] ||
  fail "dist/ differs from a fresh build of this commit: run 'npm run build' and commit dist/ first"
packaged=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
[ "$packaged" = "$version" ] ||
  fail "package.json says version $packaged, not $version: set it, and commit it with the CHANGELOG"
notes=$(awk -v heading="## [$version]" '
  index($0, heading) == 1 { inside = 1; next }
  inside && /^## / { exit }
  inside { print }' CHANGELOG.md)
[ -n "$(printf '%s' "$notes" | tr -d '[:space:]')" ] ||
  fail "CHANGELOG.md has no '## [$version]' section (or it is empty): write what changed first"
git fetch --quiet --tags "$remote"
! git rev-parse -q --verify "refs/tags/$tag" >/dev/null ||
  fail "$tag exists already (on $(git rev-list -n 1 "$tag")): a release is never moved; release a new version"
# The newest release of this major: vX moves only forward.
newest=$(git tag -l "$major.*" | grep -Ex "v[0-9]+\.[0-9]+\.[0-9]+" | sort -t. -k1,1 -k2,2n -k3,3n | tail -n 1)
if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$tag" | sort -t. -k1,1 -k2,2n -k3,3n | tail -n 1)" != "$tag" ]; then
  fail "$newest is newer than $tag: $major stays where it is; tag $tag by hand if you mean to patch an old line"
fi

commit=$(git rev-parse HEAD)
git tag -a "$tag" -m "$tag" "$commit"
git tag -fa "$major" -m "$major: $tag" "$commit"
git push --quiet "$remote" "refs/tags/$tag"
git push --quiet --force "$remote" "refs/tags/$major"
echo "Released $tag ($commit); $major points to it" >&2
printf '%s\n' "$notes"
