import { run } from './cleanup.js'

void run()
