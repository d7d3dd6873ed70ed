// @peculiar/x509 with the Reflect metadata it needs loaded first; import x509 from here only.
import './reflect-metadata.js';
export * from '@peculiar/x509';
