// The lab: a simulated fleet on this machine, used by `fleetnet lab`, the demo and the tests.
export { labUp, type LabUpOptions, type LabUpResult, type LabHostInfo } from './up.js';
export { labDown, LAB_LABEL, type LabDownOptions, type LabDownResult } from './down.js';
export { labList, type LabStatus, type LabHostStatus } from './list.js';
export { agentHealth } from './agents.js';
export { layoutOf, parseLabName, DEFAULT_LAB_NAME, DEFAULT_UNDERLAY, DEFAULT_RUN_ROOT } from './layout.js';
