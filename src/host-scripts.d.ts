/** Host scripts (src/host/*.sh, *.awk, *.py), bundled as text: scripts/build.mjs, jest.config.js. */
declare module '*.sh' {
  const text: string
  export default text
}
declare module '*.awk' {
  const text: string
  export default text
}
declare module '*.py' {
  const text: string
  export default text
}
