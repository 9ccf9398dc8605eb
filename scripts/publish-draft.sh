#!/bin/sh
# Creates the GitHub release of tag vX.Y.Z as a draft, with the notes in NOTES_FILE, and says what
# to click: a release created through the API or the CLI is not listed on the Marketplace, and
# with immutable releases a published one is locked at once. A person publishes the draft in the
# web UI with "Publish this Action to the GitHub Marketplace" ticked. The major tag vX stays a plain
# tag, never a release. Needs gh (GH_TOKEN) and GITHUB_REPOSITORY.
#
#   sh scripts/publish-draft.sh X.Y.Z NOTES_FILE
set -eu
version=${1:?usage: sh scripts/publish-draft.sh X.Y.Z NOTES_FILE}
notes=${2:?usage: sh scripts/publish-draft.sh X.Y.Z NOTES_FILE}
version=${version#v}
tag=v$version
gh release create "$tag" --draft --title "$tag" --notes-file "$notes" --verify-tag
repository=${GITHUB_REPOSITORY:-OWNER/REPO}
cat <<TEXT
Drafted the release $tag. To list it on the Marketplace, a person publishes it:
  1. open https://github.com/$repository/releases and edit the draft $tag;
  2. tick "Publish this Action to the GitHub Marketplace" and check the category;
  3. click "Publish release". With immutable releases it cannot be changed afterwards.
v${version%%.*} stays a plain tag (moved by scripts/release.sh): never make it a release.
TEXT
