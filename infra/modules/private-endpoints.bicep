// Private endpoints in the network's endpoint subnet, each registered in its private DNS zone (network.bicep).
param prefix string
param location string
param tags object
param subnetId string

@description('Private DNS zone ids by kind: redis, file, vault.')
param dnsZoneIds object

@description('The resources: [{ kind (redis | file | vault), id, groupId }].')
param targets array

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for target in targets: {
  name: '${prefix}-${target.kind}-endpoint'
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      { name: target.kind, properties: { privateLinkServiceId: target.id, groupIds: [target.groupId] } }
    ]
  }
}]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (target, i) in targets: {
  parent: endpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [{ name: target.kind, properties: { privateDnsZoneId: dnsZoneIds[target.kind] } }]
  }
}]
