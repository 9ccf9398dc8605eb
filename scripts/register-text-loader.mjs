// `node --import ./scripts/register-text-loader.mjs …`: host scripts import as text (text-loader.mjs).
import { register } from 'node:module'

register('./text-loader.mjs', import.meta.url)
