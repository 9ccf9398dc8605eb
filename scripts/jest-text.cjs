// Jest transform for the host scripts: a .sh or .awk file is its text, as esbuild's text loader makes it.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` }
  }
}
