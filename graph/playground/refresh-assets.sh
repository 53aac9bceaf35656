#!/usr/bin/env bash
# refresh-assets.sh downloads the pinned GraphiQL and React npm packages and
# copies the browser builds that package playground embeds into ./assets.
#
# This is the only supported way to refresh or upgrade the playground assets:
#   1. change the versions below;
#   2. run: bash graph/playground/refresh-assets.sh   (needs npm, reaches the npm registry);
#   3. update graphiqlVersion / reactVersion in playground.go to match;
#   4. run: go test ./graph/playground/   (fails if the page and the embedded files disagree);
#   5. commit the changed files under assets/.
#
# The asset file names carry the version, so the handler can serve them with an
# immutable Cache-Control header. The graphiql UMD bundle must keep loading
# nothing from outside: its CSS inlines fonts and images as data: URLs, and the
# script below fails if a new version references anything else by URL.
set -euo pipefail

GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.2.0 # used for both react and react-dom

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/assets"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# unpack NAME VERSION: npm pack NAME@VERSION into $tmp and unpack it to $tmp/NAME.
unpack() {
	local name="$1" version="$2" tarball
	tarball="$(cd "$tmp" && npm pack --silent "$name@$version")"
	mkdir -p "$tmp/$name"
	tar -xzf "$tmp/$tarball" -C "$tmp/$name" --strip-components=1
	echo "fetched $name@$version ($tarball)"
}

unpack graphiql "$GRAPHIQL_VERSION"
unpack react "$REACT_VERSION"
unpack react-dom "$REACT_VERSION"

# Drop the previous versions so that only the pinned files get embedded.
mkdir -p "$dest"
rm -f "$dest"/*.js "$dest"/*.css "$dest"/LICENSE-*

# The npm files are copied byte for byte, except that graphiql's trailing
# "//# sourceMappingURL=..." comment is removed: the source map is not shipped,
# so browser dev tools would only request it and get a 404.
strip_source_map() {
	sed -e '/^\/[\/*]# sourceMappingURL=/d' "$1" >"$2"
}
strip_source_map "$tmp/graphiql/graphiql.min.js" "$dest/graphiql-$GRAPHIQL_VERSION.min.js"
strip_source_map "$tmp/graphiql/graphiql.min.css" "$dest/graphiql-$GRAPHIQL_VERSION.min.css"
cp "$tmp/react/umd/react.production.min.js" "$dest/react-$REACT_VERSION.production.min.js"
cp "$tmp/react-dom/umd/react-dom.production.min.js" "$dest/react-dom-$REACT_VERSION.production.min.js"

# License notices of the shipped code (not embedded in the binary).
cp "$tmp/graphiql/LICENSE" "$dest/LICENSE-graphiql"
cp "$tmp/react/LICENSE" "$dest/LICENSE-react"

# Everything must load from the page's own origin: the CSS may only use data:
# URLs and nothing may be imported by URL.
css="$dest/graphiql-$GRAPHIQL_VERSION.min.css"
if grep -Eo 'url\([[:space:]]*["'\'']?[^"'\'')]{0,16}' "$css" | grep -Ev 'url\([[:space:]]*["'\'']?data:' ||
	grep -Eq '@import' "$css"; then
	echo "error: $css references files by URL; bundle or inline them before shipping" >&2
	exit 1
fi
if grep -Eq 'sourceMappingURL=' "$dest"/*.js "$dest"/*.css; then
	echo "error: an asset still references a source map" >&2
	exit 1
fi

if ! grep -Eq "graphiqlVersion[[:space:]]*=[[:space:]]*\"$GRAPHIQL_VERSION\"" "$here/playground.go" ||
	! grep -Eq "reactVersion[[:space:]]*=[[:space:]]*\"$REACT_VERSION\"" "$here/playground.go"; then
	echo "note: set graphiqlVersion = \"$GRAPHIQL_VERSION\" and reactVersion = \"$REACT_VERSION\" in $here/playground.go" >&2
fi

(cd "$dest" && ls -l -- *.js *.css && sha256sum -- *.js *.css)
