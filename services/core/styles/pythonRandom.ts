/**
 * CPython's `random.Random` lives in services/shared/pythonRandom.ts so that core (Random Style)
 * and the engine (wildcards) draw from the same generator type without importing each other.
 * Re-exported here for the core and worker modules that import it from this path.
 */
export { PythonRandom } from '../../shared/pythonRandom.ts';
